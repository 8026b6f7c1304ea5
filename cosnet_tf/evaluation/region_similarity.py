"""Region similarity J: the Jaccard index (IoU) of two masks (DAVIS ``db_eval_iou``)."""
from __future__ import annotations

import numpy as np

from cosnet_tf.evaluation._binary import as_binary_pair


def region_similarity(prediction, ground_truth) -> float:
    """Region similarity ``J = |P ∩ G| / |P ∪ G|`` of one frame.

    Follows the DAVIS-2016 benchmark: when both masks are empty the frame
    scores 1 (nothing to find, nothing found); when only one is empty it
    scores 0.

    Args:
        prediction: ``(height, width)`` mask, nonzero is foreground.
        ground_truth: mask of the same shape.

    Returns:
        J in ``[0, 1]``.

    Example:

    >>> import numpy as np
    >>> a = np.zeros((4, 4), bool); a[:, :2] = True   # 8 pixels
    >>> b = np.zeros((4, 4), bool); b[:, 1:3] = True  # 8 pixels, 4 shared
    >>> region_similarity(a, b)  # 4 / 12
    0.3333333333333333
    >>> region_similarity(np.zeros((2, 2)), np.zeros((2, 2)))
    1.0
    """
    prediction, ground_truth = as_binary_pair(prediction, ground_truth)
    union = np.count_nonzero(prediction | ground_truth)
    if union == 0:
        return 1.0
    return float(np.count_nonzero(prediction & ground_truth) / union)
