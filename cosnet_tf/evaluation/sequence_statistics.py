"""Per-sequence statistics of per-frame scores: mean, recall and decay (DAVIS ``db_statistics``).

The functions take the scores of the *scored* frames only (for DAVIS-2016:
every frame except the first and the last), in temporal order.

* mean: average score, NaN entries ignored.
* recall: fraction of frames scoring strictly above 0.5 (a NaN frame counts
  as not recalled, as ``np.nanmean(X > 0.5)`` does in the benchmark).
* decay: average of the first quarter minus average of the last quarter.
  The quarters are *not* ``np.array_split`` chunks: the benchmark ports
  MATLAB's ``round(linspace(1, n, 5))`` bin edges and each bin includes
  both its edges, so neighbouring bins share one frame (and with fewer
  than 4 frames the bins overlap more). With 10 frames the edges are frames
  1, 3, 6, 8, 10 (1-based) and the bins are ``[1..3], [3..6], [6..8], [8..10]``.
"""
from __future__ import annotations

import warnings

import numpy as np


def _as_scores(values) -> np.ndarray:
    scores = np.asarray(values, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"expected a 1-D sequence of per-frame scores, got shape {scores.shape}")
    if scores.size == 0:
        raise ValueError("expected at least one per-frame score, got none")
    return scores


def _nanmean(values: np.ndarray) -> float:
    with warnings.catch_warnings():  # all-NaN input: NaN, silently (as in the benchmark)
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return float(np.nanmean(values))


def mean_score(values) -> float:
    """Mean of the per-frame scores, NaN frames ignored (NaN if all are NaN).

    >>> mean_score([0.5, 1.0, float("nan")])
    0.75
    """
    return _nanmean(_as_scores(values))


def recall_score(values, threshold: float = 0.5) -> float:
    """Fraction of frames scoring strictly above ``threshold``.

    >>> recall_score([0.2, 0.5, 0.6, 0.9])
    0.5
    """
    return float(np.mean(_as_scores(values) > threshold))


def decay_bins(num_frames: int, num_bins: int = 4) -> list[tuple[int, int]]:
    """Inclusive 0-based ``(first, last)`` frame index of each decay bin.

    >>> decay_bins(10)
    [(0, 2), (2, 5), (5, 7), (7, 9)]
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if num_bins < 2:
        raise ValueError(f"num_bins must be >= 2, got {num_bins}")
    # MATLAB round() rounds halves away from zero; the benchmark adds 1e-10
    # before np.round (which rounds halves to even) to get the same edges.
    edges = (np.round(np.linspace(1, num_frames, num_bins + 1) + 1e-10) - 1).astype(np.int64)
    return [(int(edges[i]), int(edges[i + 1])) for i in range(num_bins)]


def decay_score(values, num_bins: int = 4) -> float:
    """Performance decay: mean of the first bin minus mean of the last bin.

    Positive when quality drops over time. See the module docstring for the
    bins.

    >>> decay_score([1.0] * 5 + [0.0] * 5)  # bins [1,1,1] ... [0,0,0]
    1.0
    >>> round(decay_score([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]), 6)  # 0.8 - 0.1
    0.7
    """
    scores = _as_scores(values)
    bins = decay_bins(scores.size, num_bins)
    first_start, first_end = bins[0]
    last_start, last_end = bins[-1]
    return _nanmean(scores[first_start : first_end + 1]) - _nanmean(scores[last_start : last_end + 1])
