"""The DAVIS-2016 evaluation protocol: J and F (mean, recall, decay) and T (mean).

Layout::

    <gt_root>/Annotations/480p/<sequence>/00000.png, 00001.png, ...
    <pred_dir>/<sequence>/00000.png, 00001.png, ...

``gt_root`` may also be the ``Annotations/480p`` folder itself. Predictions
are matched to ground-truth frames by file stem; every ground-truth frame
except the first and the last is scored (the DAVIS-2016 protocol: the first
frame is given in the semi-supervised setting and the last has no successor),
so those two predictions are optional and every other one is required.

Per sequence, as in the benchmark (``DAVISAnnotationLoader._eval`` +
``db_statistics``):

* ``J_mean``, ``J_recall``, ``J_decay`` and ``F_mean``, ``F_recall``,
  ``F_decay`` from the per-frame region similarity and boundary F-measure
  (see :mod:`~cosnet_tf.evaluation.sequence_statistics`);
* ``T_mean``: the NaN-ignoring mean of ``5 x`` the temporal stability of
  each pair of consecutive scored predictions (lower is better; NaN when
  every pair involves an empty mask).

The overall row averages each score over the sequences (NaN-ignoring, so a
sequence without T does not count for ``T_mean``), as the benchmark's table.
The original benchmark computes T only on the sequences its ``db_info.yml``
flags with ``eval_t`` (it leaves out sequences with heavy occlusion): that
list is read from ``<gt_root>/db_info.yml`` when it is there, or given as
``t_exclude`` (names or the file's path; ``cosnet evaluate --db-info``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

from cosnet_tf.evaluation._protocol_utils import (
    check_measures,
    check_prediction_dir,
    nanmean,
    run_tasks,
    score_frames,
    select_sequences,
)
from cosnet_tf.evaluation.boundary_measure import DEFAULT_BOUND_TH
from cosnet_tf.evaluation.db_info import find_db_info, t_exclusions
from cosnet_tf.evaluation.evaluation_result import EvaluationResult
from cosnet_tf.evaluation.mask_io import list_mask_frames
from cosnet_tf.evaluation.result_row import ResultRow
from cosnet_tf.evaluation.sequence_statistics import (
    decay_score,
    mean_score,
    recall_score,
)

DAVIS_MEASURES = ("J", "F", "T")


def davis_annotation_dir(gt_root) -> Path:
    """The folder holding one sub-folder of PNG annotations per sequence.

    ``<gt_root>/Annotations/480p`` when it exists, else ``gt_root`` itself if
    it has no ``Annotations`` folder.

    Raises:
        FileNotFoundError: neither exists (the message names the expected folder).
    """
    root = Path(gt_root)
    candidate = root / "Annotations" / "480p"
    if candidate.is_dir():
        return candidate
    if root.is_dir() and not (root / "Annotations").exists():
        return root
    raise FileNotFoundError(
        f"DAVIS-2016 ground truth not found: expected the folder {candidate} "
        "(or pass the Annotations/480p folder itself as gt_root)"
    )


def scored_frames(name, gt_dir) -> list[tuple[str, Path]]:
    """The frames of sequence `name` that the DAVIS-2016 protocol scores, ``(stem, ground-truth
    path)``: every annotated frame but the first and the last.

    Raises:
        ValueError: fewer than 3 annotated frames (the message names the sequence and folder).
    """
    frames = list_mask_frames(gt_dir)
    if len(frames) < 3:
        raise ValueError(
            f"sequence {name!r} has {len(frames)} annotated frame(s) in {gt_dir}; the DAVIS-2016"
            " protocol needs at least 3 (the first and the last are not scored)"
        )
    return frames[1:-1]


def _evaluate_sequence(task) -> dict:
    name, gt_dir, pred_dir, measures, bound_th = task
    return score_frames(scored_frames(name, gt_dir), Path(pred_dir), measures, bound_th)


def _sequence_values(scores: dict, measures: Sequence[str]) -> dict[str, float]:
    values = {}
    for measure in ("J", "F"):
        if measure in measures:
            frame_values = scores[measure]
            values[f"{measure}_mean"] = mean_score(frame_values)
            values[f"{measure}_recall"] = recall_score(frame_values)
            values[f"{measure}_decay"] = decay_score(frame_values)
    if "T" in measures:
        values["T_mean"] = nanmean(scores.get("T", []))
    return values


def evaluate_davis2016(
    pred_dir,
    gt_root,
    sequences=None,
    *,
    measures: Sequence[str] | None = None,
    t_exclude: Iterable[str] | str | os.PathLike | None = None,
    bound_th: float = DEFAULT_BOUND_TH,
    workers: int | None = 1,
) -> EvaluationResult:
    """Evaluate predictions with the DAVIS-2016 protocol (see the module docstring).

    Args:
        pred_dir: folder with one sub-folder of PNG predictions per sequence.
        gt_root: the DAVIS root (containing ``Annotations/480p``) or that folder.
        sequences: ``None`` (every sequence folder of the ground truth), a
            list of names, or a text file listing them (e.g. DAVIS
            ``ImageSets/2016/val.txt``).
        measures: subset of ``("J", "F", "T")``; default all three.
        t_exclude: sequences for which T is not computed (NaN): names, or the
            path of a DAVIS ``db_info.yml`` (its ``eval_t: False`` entries).
            ``None`` (default) reads ``db_info.yml`` from ``gt_root`` when it
            is there and excludes nothing otherwise; ``()`` excludes nothing.
        bound_th: tolerance of the boundary measure (fraction of the diagonal).
        workers: processes to evaluate sequences in parallel (``None``: all CPUs).

    Returns:
        An :class:`EvaluationResult` with metrics ``J_mean, J_recall,
        J_decay, F_mean, F_recall, F_decay, T_mean`` (those requested).

    Raises:
        FileNotFoundError: missing ground-truth folder or prediction (named).
        ValueError: unreadable PNG or size mismatch (the file is named).

    Example:

    >>> import tempfile, pathlib, numpy as np
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> mask = np.zeros((40, 60), np.uint8); mask[10:30, 20:40] = 255
    >>> for folder in [root / "Annotations/480p/box", root / "pred/box"]:
    ...     folder.mkdir(parents=True)
    ...     for i in range(5):
    ...         Image.fromarray(mask).save(folder / f"{i:05d}.png")
    >>> result = evaluate_davis2016(root / "pred", root)
    >>> result.row("box")["J_mean"], result.row("box").num_frames
    (1.0, 3)
    """
    measures = check_measures(measures, DAVIS_MEASURES, DAVIS_MEASURES, "davis2016")
    annotation_dir = davis_annotation_dir(gt_root)
    available = sorted(p.name for p in annotation_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    names = select_sequences(available, sequences, annotation_dir)
    if t_exclude is None:
        found = find_db_info(gt_root)
        t_exclude = () if found is None else found
    excluded = t_exclusions(t_exclude) if isinstance(t_exclude, (str, os.PathLike)) else set(t_exclude)
    pred_dir = check_prediction_dir(pred_dir)
    tasks = [
        (
            name,
            annotation_dir / name,
            pred_dir / name,
            tuple(m for m in measures if not (m == "T" and name in excluded)),
            bound_th,
        )
        for name in names
    ]
    all_scores = run_tasks(_evaluate_sequence, tasks, workers)

    metric_names = [f"{m}_{s}" for m in ("J", "F") if m in measures for s in ("mean", "recall", "decay")]
    if "T" in measures:
        metric_names.append("T_mean")
    rows = []
    frame_scores = {}
    for name, scores in zip(names, all_scores):
        values = _sequence_values(scores, measures)
        rows.append(ResultRow(name, "sequence", len(scores["frames"]), values))
        frame_scores[name] = scores
    overall = ResultRow(
        "overall",
        "overall",
        sum(row.num_frames for row in rows),
        {metric: nanmean(row.values[metric] for row in rows) for metric in metric_names},
    )
    return EvaluationResult("davis2016", tuple(metric_names), tuple(rows), overall, (), frame_scores)
