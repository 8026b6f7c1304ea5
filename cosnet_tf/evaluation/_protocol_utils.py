"""Helpers shared by the evaluation protocols: sequence selection, frame scoring, workers."""
from __future__ import annotations

import concurrent.futures
import math
import os
import warnings
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from cosnet_tf.evaluation.boundary_measure import boundary_f_measure
from cosnet_tf.evaluation.mask_io import read_mask
from cosnet_tf.evaluation.region_similarity import region_similarity
from cosnet_tf.evaluation.temporal_stability import (
    TEMPORAL_STABILITY_SCALE,
    contour_descriptor,
    descriptor_stability,
)


def nanmean(values: Iterable[float]) -> float:
    """Mean ignoring NaN; NaN (silently) when nothing is left."""
    array = np.asarray(list(values), dtype=np.float64)
    if array.size == 0 or np.all(np.isnan(array)):
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return float(np.nanmean(array))


def check_measures(measures: Sequence[str] | None, allowed: Sequence[str], default: Sequence[str], protocol: str):
    """Validate a ``measures`` argument and return it as a tuple in canonical order."""
    if measures is None:
        return tuple(default)
    if isinstance(measures, str):
        measures = [measures]
    requested = [m.upper() for m in measures]
    unknown = sorted(set(requested) - set(allowed))
    if unknown:
        raise ValueError(f"protocol {protocol!r} supports measures {list(allowed)}, got {unknown}")
    if not requested:
        raise ValueError("measures must name at least one measure")
    return tuple(m for m in allowed if m in requested)


def read_sequence_list(path) -> list[str]:
    """Sequence names from a text file, one per line.

    A line's first whitespace-separated token is either a sequence name or a
    frame path such as ``/JPEGImages/480p/bear/00000.jpg`` (DAVIS
    ``ImageSets`` files), in which case the folder name (``bear``) is used.
    Blank lines and ``#`` comments are skipped; duplicates are dropped.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sequence list file not found: {path}")
    names: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        token = line.split()[0]
        name = Path(token).parent.name if "/" in token and Path(token).suffix else token.strip("/")
        if name and name not in names:
            names.append(name)
    if not names:
        raise ValueError(f"no sequence names in {path}")
    return names


def select_sequences(available: Sequence[str], requested, where: Path) -> list[str]:
    """Resolve the ``sequences`` argument of a protocol against the sequences on disk.

    ``requested`` is ``None`` (all of ``available``), a path to a list file
    (see :func:`read_sequence_list`), a single name, or an iterable of names.
    """
    if requested is None:
        if not available:
            raise ValueError(f"no sequence folders in {where}")
        return list(available)
    if isinstance(requested, (str, os.PathLike)):
        if Path(requested).is_file():
            names = read_sequence_list(requested)
        elif isinstance(requested, str):
            names = [requested]
        else:
            raise FileNotFoundError(f"sequence list file not found: {requested}")
    else:
        names = [str(name) for name in requested]
    if not names:
        raise ValueError("sequences is empty")
    missing = [name for name in names if name not in available]
    if missing:
        raise FileNotFoundError(
            f"no ground truth for sequence(s) {missing} in {where}"
            + (f" (available: {sorted(available)[:10]}{'...' if len(available) > 10 else ''})" if available else "")
        )
    return names


def check_prediction_dir(pred_dir) -> Path:
    """``pred_dir`` as a Path; FileNotFoundError naming it when it is not a folder."""
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise FileNotFoundError(f"prediction folder not found: {pred_dir}")
    return pred_dir


def read_prediction(prediction_path: Path, ground_truth: np.ndarray, ground_truth_path: Path) -> np.ndarray:
    """Read the prediction of a scored frame and check it matches its ground truth's size."""
    if not prediction_path.is_file():
        raise FileNotFoundError(
            f"missing prediction {prediction_path} for scored frame {ground_truth_path}"
        )
    prediction = read_mask(prediction_path)
    if prediction.shape != ground_truth.shape:
        raise ValueError(
            f"prediction {prediction_path} is {prediction.shape[1]}x{prediction.shape[0]} (width x height)"
            f" but its ground truth {ground_truth_path} is {ground_truth.shape[1]}x{ground_truth.shape[0]}"
        )
    return prediction


def score_frames(
    frames: Sequence[tuple[str, Path]],
    prediction_dir: Path,
    measures: Sequence[str],
    bound_th: float,
) -> dict[str, list]:
    """Per-frame scores of one sequence.

    Args:
        frames: the scored frames, ``(stem, ground-truth path)``, in order.
        prediction_dir: folder of the sequence's predictions, ``<stem>.png``.
        measures: any of ``"J"``, ``"F"``, ``"T"``.
        bound_th: tolerance of the boundary measure.

    Returns:
        ``{"frames": [stems], "J": [...], "F": [...], "T": [...]}`` for the
        requested measures. ``T[i]`` is the (x5) stability between the
        predictions of frames ``i - 1`` and ``i``; ``T[0]`` is NaN.
    """
    scores: dict[str, list] = {"frames": [stem for stem, _ in frames]}
    for measure in measures:
        scores[measure] = []
    previous = None
    for index, (stem, ground_truth_path) in enumerate(frames):
        ground_truth = read_mask(ground_truth_path, threshold=0)
        prediction = read_prediction(prediction_dir / f"{stem}.png", ground_truth, ground_truth_path)
        if "J" in scores:
            scores["J"].append(region_similarity(prediction, ground_truth))
        if "F" in scores:
            scores["F"].append(boundary_f_measure(prediction, ground_truth, bound_th=bound_th))
        if "T" in scores:
            # Each frame's contour description serves two consecutive pairs.
            current = contour_descriptor(prediction)
            if index == 0:
                scores["T"].append(math.nan)
            else:
                scores["T"].append(TEMPORAL_STABILITY_SCALE * descriptor_stability(previous, current))
            previous = current
    return scores


def run_tasks(function: Callable, tasks: Sequence, workers: int | None) -> list:
    """``[function(task) for task in tasks]``, over ``workers`` processes when > 1.

    ``workers=None`` uses every CPU. Results keep the order of ``tasks``; the
    first exception raised by a task is re-raised here.
    """
    if workers is None:
        workers = os.cpu_count() or 1
    workers = int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    workers = min(workers, len(tasks))
    if workers <= 1:
        return [function(task) for task in tasks]
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, tasks))
