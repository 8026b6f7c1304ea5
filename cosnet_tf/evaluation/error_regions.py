"""A mask's wrong pixels, split by what they are: a wrong object, a missed part, or the outline.

The references of Eq. 13 can only mend a frame whose mask covers something that is not the
primary object, which a comparison with other frames could reject; they have no say in how
well the outline of the right object is drawn. `error_regions` tells the two apart, so the
most that better object picking could add to J is measurable
(`benchmarks/davis_error_breakdown.py`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosnet_tf.evaluation._binary import as_binary_pair

# 8-connected regions: a thin diagonal limb is one region with its body.
_CONNECTIVITY = np.ones((3, 3), bool)


@dataclass(frozen=True)
class ErrorRegions:
    """Boolean [H, W] masks of one frame's errors; together they are prediction XOR truth.

    Attributes:
        strays: predicted regions (8-connected components) that touch no object pixel.
        misses: object regions (its components) that no predicted pixel touches.
        outline: the other wrong pixels: the false positives and negatives of the
            predicted regions that do meet the object.
    """

    strays: np.ndarray
    misses: np.ndarray
    outline: np.ndarray


def error_regions(prediction, ground_truth) -> ErrorRegions:
    """Splits the wrong pixels of `prediction` against `ground_truth` (2-D masks, nonzero is
    foreground) into strays, misses and outline.

    >>> import numpy as np
    >>> truth = np.zeros((6, 8), bool); truth[1:4, 1:4] = True
    >>> prediction = np.zeros((6, 8), bool); prediction[1:4, 2:5] = True; prediction[4:6, 6:8] = True
    >>> regions = error_regions(prediction, truth)
    >>> int(regions.strays.sum()), int(regions.misses.sum()), int(regions.outline.sum())
    (4, 0, 6)
    """
    from cosnet_tf.utils.extras import require

    ndimage = require("scipy.ndimage", "analysis", "splitting a mask's errors into regions")
    prediction, ground_truth = as_binary_pair(prediction, ground_truth)
    predicted_labels, _ = ndimage.label(prediction, structure=_CONNECTIVITY)
    meeting = np.unique(predicted_labels[prediction & ground_truth])
    strays = prediction & ~np.isin(predicted_labels, meeting)
    object_labels, _ = ndimage.label(ground_truth, structure=_CONNECTIVITY)
    found = np.unique(object_labels[prediction & ground_truth])
    misses = ground_truth & ~np.isin(object_labels, found)
    outline = (prediction ^ ground_truth) & ~strays & ~misses
    return ErrorRegions(strays=strays, misses=misses, outline=outline)
