"""The FBMS (Freiburg-Berkeley Motion Segmentation) protocol: J on the annotated frames.

FBMS annotates only some frames of each video (about one in twenty), and
often several moving objects. This protocol expects the annotations as one
folder of PNG masks per sequence, one PNG per *annotated* frame::

    <gt_root>/<sequence>/<frame>.png      # e.g. cars1/00000.png, cars1/00020.png
    <pred_dir>/<sequence>/<frame>.png     # predictions, same file stems

* Scored frames are exactly the ground-truth PNGs present: a prediction is
  required for each of them (matched by file stem) and any other prediction
  is ignored.
* All annotated objects merge into one foreground: every nonzero value of a
  ground-truth PNG is foreground (label maps, palette PNGs and RGB colour
  codes with a black background all work).
* Predictions: see :func:`~cosnet_tf.evaluation.read_mask` (> 127 for
  8-bit grey).
* Per sequence: ``J_mean`` (and ``F_mean`` if requested), the mean over
  its annotated frames; empty prediction and empty ground truth score 1.
* Overall: the mean over sequences (``average="sequences"``, default) or
  over all annotated frames of all sequences (``average="frames"``).

FBMS's own ground truth (``GroundTruth/*.ppm`` or ``*.pgm`` colour-coded
regions, named by frame number) must be converted to this layout first,
with the frame stems of the prediction files.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from cosnet_tf.evaluation._protocol_utils import (
    check_measures,
    check_prediction_dir,
    nanmean,
    run_tasks,
    score_frames,
    select_sequences,
)
from cosnet_tf.evaluation.boundary_measure import DEFAULT_BOUND_TH
from cosnet_tf.evaluation.evaluation_result import EvaluationResult
from cosnet_tf.evaluation.mask_io import list_mask_frames
from cosnet_tf.evaluation.result_row import ResultRow

SPARSE_MEASURES = ("J", "F")
AVERAGES = ("sequences", "frames")


def check_average(average: str) -> str:
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")
    return average


def score_sparse_sequence(task) -> dict:
    """Scores of every annotated frame of one sequence (worker of the sparse protocols)."""
    gt_dir, pred_dir, measures, bound_th = task
    return score_frames(list_mask_frames(gt_dir), Path(pred_dir), measures, bound_th)


def frame_weighted_mean(scores_list: Sequence[dict], measure: str) -> float:
    """Mean of a measure over all frames of several sequences."""
    return nanmean(value for scores in scores_list for value in scores[measure])


def score_sparse_sequences(gt_root: Path, pred_dir: Path, names, measures, bound_th, workers):
    """Scores and rows of the named sequences of a sparse protocol (FBMS, YouTube-Objects).

    Returns:
        ``(all_scores, rows)``: each sequence's per-frame scores and its
        ``ResultRow`` with the mean of every measure over its annotated frames.
    """
    tasks = [(gt_root / name, pred_dir / name, measures, bound_th) for name in names]
    all_scores = run_tasks(score_sparse_sequence, tasks, workers)
    rows = [
        ResultRow(name, "sequence", len(scores["frames"]), {f"{m}_mean": nanmean(scores[m]) for m in measures})
        for name, scores in zip(names, all_scores)
    ]
    return all_scores, rows


def group_row(name: str, kind: str, rows, all_scores, measures, average: str) -> ResultRow:
    """One row over several sequences: the mean of their rows, or of all their frames."""
    if average == "sequences":
        values = {f"{m}_mean": nanmean(row.values[f"{m}_mean"] for row in rows) for m in measures}
    else:
        values = {f"{m}_mean": frame_weighted_mean(all_scores, m) for m in measures}
    return ResultRow(name, kind, sum(row.num_frames for row in rows), values)


def evaluate_fbms(
    pred_dir,
    gt_root,
    sequences=None,
    *,
    measures: Sequence[str] | None = None,
    average: str = "sequences",
    bound_th: float = DEFAULT_BOUND_TH,
    workers: int | None = 1,
) -> EvaluationResult:
    """Evaluate predictions on FBMS-style sparse annotations (see the module docstring).

    Args:
        pred_dir: folder with one sub-folder of PNG predictions per sequence.
        gt_root: folder with one sub-folder of annotated-frame PNGs per sequence.
        sequences: ``None`` (all), names, or a text file listing them.
        measures: subset of ``("J", "F")``; default ``("J",)``.
        average: ``"sequences"`` or ``"frames"``, how the overall row averages.
        bound_th: tolerance of the boundary measure.
        workers: processes (``None``: all CPUs).

    Returns:
        An :class:`EvaluationResult` with ``J_mean`` (and ``F_mean``) per
        sequence and overall.

    Example:

    >>> import tempfile, pathlib, numpy as np
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> labels = np.zeros((20, 20), np.uint8); labels[2:8, 2:8] = 1; labels[12:18, 12:18] = 2
    >>> (root / "gt/cars").mkdir(parents=True); (root / "pred/cars").mkdir(parents=True)
    >>> Image.fromarray(labels).save(root / "gt/cars/00020.png")   # two objects
    >>> Image.fromarray((labels > 0).astype(np.uint8) * 255).save(root / "pred/cars/00020.png")
    >>> evaluate_fbms(root / "pred", root / "gt").overall["J_mean"]
    1.0
    """
    measures = check_measures(measures, SPARSE_MEASURES, ("J",), "fbms")
    average = check_average(average)
    gt_root = Path(gt_root)
    if not gt_root.is_dir():
        raise FileNotFoundError(f"FBMS ground-truth folder not found: {gt_root}")
    available = sorted(p.name for p in gt_root.iterdir() if p.is_dir() and not p.name.startswith("."))
    names = select_sequences(available, sequences, gt_root)
    pred_dir = check_prediction_dir(pred_dir)
    all_scores, rows = score_sparse_sequences(gt_root, pred_dir, names, measures, bound_th, workers)
    metric_names = tuple(f"{m}_mean" for m in measures)
    overall = group_row("overall", "overall", rows, all_scores, measures, average)
    return EvaluationResult("fbms", metric_names, tuple(rows), overall, (), dict(zip(names, all_scores)))
