"""The YouTube-Objects protocol: mean J per object category and over categories.

YouTube-Objects has 10 categories (aeroplane, bird, boat, car, cat, cow,
dog, horse, motorbike, train), each with several video sequences of which a
few frames carry a segmentation mask. Layout, one folder per category, one
sub-folder per sequence, one PNG per *annotated* frame::

    <gt_root>/<category>/<sequence>/<frame>.png   # e.g. aeroplane/0001/00010.png
    <pred_dir>/<category>/<sequence>/<frame>.png  # predictions, same file stems

* Scored frames are exactly the ground-truth PNGs present; predictions are
  matched by file stem, a missing one is an error, extra ones are ignored.
* Ground truth: every nonzero value is foreground; predictions: see
  :func:`~cosnet_tf.evaluation.read_mask`.
* Sequence rows are named ``<category>/<sequence>`` and hold the mean J of
  their annotated frames.
* Category rows: the mean over the category's sequences
  (``average="sequences"``, default) or over all its annotated frames
  (``average="frames"``).
* Overall: the mean over the categories (the class-averaged number papers
  report).

``sequences`` may name whole categories (``"cat"``) or single sequences
(``"cat/0001"``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from cosnet_tf.evaluation._protocol_utils import (
    check_measures,
    check_prediction_dir,
    nanmean,
    read_sequence_list,
)
from cosnet_tf.evaluation.boundary_measure import DEFAULT_BOUND_TH
from cosnet_tf.evaluation.evaluation_result import EvaluationResult
from cosnet_tf.evaluation.fbms import (
    SPARSE_MEASURES,
    check_average,
    group_row,
    score_sparse_sequences,
)
from cosnet_tf.evaluation.result_row import ResultRow


def _available_sequences(gt_root: Path) -> list[str]:
    names = []
    for category in sorted(p for p in gt_root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for sequence in sorted(p for p in category.iterdir() if p.is_dir() and not p.name.startswith(".")):
            names.append(f"{category.name}/{sequence.name}")
    return names


def _select(available: list[str], requested, gt_root: Path) -> list[str]:
    if requested is None:
        if not available:
            raise ValueError(f"no <category>/<sequence> folders in {gt_root}")
        return available
    if isinstance(requested, (str, os.PathLike)):
        if Path(requested).is_file():
            requested = read_sequence_list(requested)
        elif isinstance(requested, str):
            requested = [requested]
        else:
            raise FileNotFoundError(f"sequence list file not found: {requested}")
    selected: list[str] = []
    for item in requested:
        item = str(item).strip("/")
        matches = [name for name in available if name == item or name.split("/", 1)[0] == item]
        if not matches:
            raise FileNotFoundError(
                f"no ground truth for category or sequence {item!r} in {gt_root}"
                " (expected <category>/<sequence>/<frame>.png)"
            )
        selected.extend(name for name in matches if name not in selected)
    return selected


def evaluate_youtube_objects(
    pred_dir,
    gt_root,
    sequences=None,
    *,
    measures: Sequence[str] | None = None,
    average: str = "sequences",
    bound_th: float = DEFAULT_BOUND_TH,
    workers: int | None = 1,
) -> EvaluationResult:
    """Evaluate predictions on YouTube-Objects (see the module docstring).

    Args:
        pred_dir: ``<category>/<sequence>/<frame>.png`` predictions.
        gt_root: ``<category>/<sequence>/<frame>.png`` annotations.
        sequences: ``None`` (all), category or ``category/sequence`` names,
            or a text file listing them.
        measures: subset of ``("J", "F")``; default ``("J",)``.
        average: ``"sequences"`` or ``"frames"``: how a category averages.
        bound_th: tolerance of the boundary measure.
        workers: processes (``None``: all CPUs).

    Returns:
        An :class:`EvaluationResult` with sequence rows, one row per
        category in ``categories``, and the class-averaged overall row.

    Example:

    >>> import tempfile, pathlib, numpy as np
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> mask = np.zeros((20, 20), np.uint8); mask[5:15, 5:15] = 255
    >>> for tree in ["gt", "pred"]:
    ...     (root / tree / "cat/0001").mkdir(parents=True)
    ...     Image.fromarray(mask).save(root / tree / "cat/0001/00007.png")
    >>> result = evaluate_youtube_objects(root / "pred", root / "gt")
    >>> result.row("cat")["J_mean"], result.overall["J_mean"]
    (1.0, 1.0)
    """
    measures = check_measures(measures, SPARSE_MEASURES, ("J",), "youtube-objects")
    average = check_average(average)
    gt_root = Path(gt_root)
    if not gt_root.is_dir():
        raise FileNotFoundError(f"YouTube-Objects ground-truth folder not found: {gt_root}")
    names = _select(_available_sequences(gt_root), sequences, gt_root)
    pred_dir = check_prediction_dir(pred_dir)
    all_scores, rows = score_sparse_sequences(gt_root, pred_dir, names, measures, bound_th, workers)
    metric_names = tuple(f"{m}_mean" for m in measures)
    categories: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        categories.setdefault(name.split("/", 1)[0], []).append(index)
    category_rows = [
        group_row(category, "category", [rows[i] for i in indices], [all_scores[i] for i in indices],
                  measures, average)
        for category, indices in categories.items()
    ]
    overall = ResultRow(
        "overall",
        "overall",
        sum(row.num_frames for row in rows),
        {metric: nanmean(row.values[metric] for row in category_rows) for metric in metric_names},
    )
    return EvaluationResult(
        "youtube-objects", metric_names, tuple(rows), overall, tuple(category_rows), dict(zip(names, all_scores))
    )
