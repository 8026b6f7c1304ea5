"""Input validation shared by the metrics."""
from __future__ import annotations

import numpy as np


def as_binary_mask(mask, name: str) -> np.ndarray:
    """Return ``mask`` as a 2-D boolean array (nonzero is foreground)."""
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (height, width) mask, got shape {array.shape}")
    if array.dtype == bool:
        return array
    if not (np.issubdtype(array.dtype, np.number)):
        raise ValueError(f"{name} must be a boolean or numeric array, got dtype {array.dtype}")
    return array != 0


def as_binary_pair(prediction, ground_truth) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (prediction, ground truth) pair of masks of one frame."""
    prediction = as_binary_mask(prediction, "prediction")
    ground_truth = as_binary_mask(ground_truth, "ground_truth")
    if prediction.shape != ground_truth.shape:
        raise ValueError(
            f"prediction shape {prediction.shape} differs from ground-truth shape {ground_truth.shape}"
        )
    return prediction, ground_truth
