"""Boundary measure F: contour precision/recall/F-measure (DAVIS ``db_eval_boundary``).

A port of the DAVIS-2016 benchmark's boundary measure:

1. Both masks are turned into one-pixel-wide boundary maps with
   :func:`seg2bmap` (David Martin's BSDS ``seg2bmap``: a pixel is a boundary
   pixel when it differs from its east, south or south-east neighbour).
2. The match tolerance is ``bound_pix = ceil(bound_th * diagonal)`` pixels
   (``bound_th = 0.008``: 8 pixels at 480p), or ``bound_th`` itself when it
   is ``>= 1``.
3. Each boundary map is dilated by a disk of that radius
   (``skimage.morphology.disk``: offsets with ``dx² + dy² <= r²``); a
   predicted boundary pixel is correct when it falls inside the dilated
   ground-truth boundary (precision) and a ground-truth boundary pixel is
   found when it falls inside the dilated predicted boundary (recall).
4. ``F = 2PR / (P + R)``, with the benchmark's empty-boundary cases: no
   predicted and no true boundary -> ``P = R = 1`` (``F = 1``); only one of
   them empty -> ``F = 0``.

The dilation is done in pure NumPy (no scikit-image needed) and gives the
same result as ``skimage.morphology.binary_dilation(b, disk(r))``.
"""
from __future__ import annotations

import math

import numpy as np

from cosnet_tf.evaluation._binary import as_binary_mask, as_binary_pair

DEFAULT_BOUND_TH = 0.008


def seg2bmap(segmentation) -> np.ndarray:
    """Boundary map of a mask: one-pixel-wide boundaries, shifted half a pixel to the origin.

    A pixel is marked when it differs from its east, south or south-east
    neighbour; on the last row only the east neighbour counts, on the last
    column only the south one, and the bottom-right pixel is never marked
    (exactly as the BSDS/DAVIS ``seg2bmap``).

    Example:

    >>> import numpy as np
    >>> m = np.zeros((4, 4), bool); m[1:3, 1:3] = True
    >>> seg2bmap(m).astype(int)
    array([[1, 1, 1, 0],
           [1, 0, 1, 0],
           [1, 1, 1, 0],
           [0, 0, 0, 0]])
    """
    seg = as_binary_mask(segmentation, "segmentation")
    east = np.zeros_like(seg)
    south = np.zeros_like(seg)
    south_east = np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    boundary = (seg ^ east) | (seg ^ south) | (seg ^ south_east)
    boundary[-1, :] = seg[-1, :] ^ east[-1, :]
    boundary[:, -1] = seg[:, -1] ^ south[:, -1]
    boundary[-1, -1] = False
    return boundary


def _dilate_rows(mask: np.ndarray, half_width: int) -> np.ndarray:
    """Dilate each row by a centred segment of ``2 * half_width + 1`` pixels."""
    if half_width == 0:
        return mask
    width = mask.shape[1]
    # Running count of foreground pixels: a window is "on" when its count is > 0.
    counts = np.zeros((mask.shape[0], width + 1), np.int32)
    np.cumsum(mask, axis=1, out=counts[:, 1:])
    columns = np.arange(width)
    right = np.minimum(columns + half_width + 1, width)
    left = np.maximum(columns - half_width, 0)
    return (counts[:, right] - counts[:, left]) > 0


def dilate_disk(mask, radius: int) -> np.ndarray:
    """Binary dilation by a disk of ``radius`` pixels (``dx² + dy² <= radius²``).

    Equivalent to ``skimage.morphology.binary_dilation(mask, disk(radius))``
    (pixels outside the image count as background). The disk is split into
    horizontal chords: each row offset ``dy`` dilates horizontally by
    ``floor(sqrt(r² - dy²))`` and is shifted by ``dy``.

    Example:

    >>> import numpy as np
    >>> m = np.zeros((5, 5), bool); m[2, 2] = True
    >>> dilate_disk(m, 1).astype(int)
    array([[0, 0, 0, 0, 0],
           [0, 0, 1, 0, 0],
           [0, 1, 1, 1, 0],
           [0, 0, 1, 0, 0],
           [0, 0, 0, 0, 0]])
    """
    mask = as_binary_mask(mask, "mask")
    radius = int(radius)
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    height = mask.shape[0]
    out = np.zeros_like(mask)
    chords: dict[int, np.ndarray] = {}
    for dy in range(-radius, radius + 1):
        half_width = math.isqrt(radius * radius - dy * dy)
        if half_width not in chords:
            chords[half_width] = _dilate_rows(mask, half_width)
        rows = chords[half_width]
        # out[y] |= rows[y + dy] for every y with 0 <= y + dy < height.
        if dy >= 0:
            if dy < height:
                out[: height - dy] |= rows[dy:]
        elif -dy < height:
            out[-dy:] |= rows[: height + dy]
    return out


def _bound_pixels(shape: tuple[int, int], bound_th: float) -> int:
    if bound_th <= 0:
        raise ValueError(f"bound_th must be > 0, got {bound_th}")
    if bound_th >= 1:
        return int(bound_th)
    return int(np.ceil(bound_th * np.linalg.norm(shape)))


def boundary_precision_recall(
    prediction, ground_truth, *, bound_th: float = DEFAULT_BOUND_TH
) -> tuple[float, float]:
    """Boundary precision and recall of one frame (see the module docstring).

    Example:

    >>> import numpy as np
    >>> gt = np.zeros((100, 100), bool); gt[20:80, 20:80] = True
    >>> boundary_precision_recall(gt, gt)
    (1.0, 1.0)
    """
    prediction, ground_truth = as_binary_pair(prediction, ground_truth)
    radius = _bound_pixels(prediction.shape, bound_th)
    pred_boundary = seg2bmap(prediction)
    gt_boundary = seg2bmap(ground_truth)
    n_pred = int(np.count_nonzero(pred_boundary))
    n_gt = int(np.count_nonzero(gt_boundary))
    # The benchmark's conventions for missing boundaries.
    if n_pred == 0 and n_gt > 0:
        return 1.0, 0.0
    if n_pred > 0 and n_gt == 0:
        return 0.0, 1.0
    if n_pred == 0 and n_gt == 0:
        return 1.0, 1.0
    pred_dilated = dilate_disk(pred_boundary, radius)
    gt_dilated = dilate_disk(gt_boundary, radius)
    precision = np.count_nonzero(pred_boundary & gt_dilated) / n_pred
    recall = np.count_nonzero(gt_boundary & pred_dilated) / n_gt
    return float(precision), float(recall)


def boundary_f_measure(prediction, ground_truth, *, bound_th: float = DEFAULT_BOUND_TH) -> float:
    """Boundary F-measure ``F = 2PR / (P + R)`` of one frame (DAVIS ``db_eval_boundary``).

    Args:
        prediction: ``(height, width)`` mask, nonzero is foreground.
        ground_truth: mask of the same shape.
        bound_th: match tolerance as a fraction of the image diagonal
            (``< 1``) or in pixels (``>= 1``).

    Returns:
        F in ``[0, 1]``; 1 when both masks are empty, 0 when only one is.

    Example: a square shifted by 2 pixels stays within the 8-pixel tolerance
    of a 480x854 frame, one shifted by 20 pixels does not.

    >>> import numpy as np
    >>> gt = np.zeros((480, 854), bool); gt[100:300, 200:500] = True
    >>> boundary_f_measure(np.roll(gt, 2, axis=1), gt)
    1.0
    >>> round(boundary_f_measure(np.roll(gt, 20, axis=1), gt), 3)
    0.594
    """
    precision, recall = boundary_precision_recall(prediction, ground_truth, bound_th=bound_th)
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))
