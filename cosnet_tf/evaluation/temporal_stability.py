"""Temporal stability T (DAVIS-2016): how much an object's contour deforms between frames.

A NumPy port of the DAVIS-2016 benchmark's ``db_eval_t_stab``
(``t_stability.py`` with its ``tstab`` C++ extension, itself a port of Jordi
Pont-Tuset's MATLAB ``t_stability.m`` and of the PolyCont contour library).
For two masks (in the benchmark: the predictions of two consecutive frames):

1. **Contours** (:func:`mask_contours`, PolyCont ``mask2polycont``): the
   closed boundaries of the mask are traced along pixel edges (crack
   coordinates: the corners of pixels, ``x`` = column, ``y`` = row),
   simplified twice with psimpl's Douglas-Peucker (radial-distance
   reduction then Douglas-Peucker, first with a tolerance of 0.05 pixel to
   drop collinear points, then 1.5 pixels), oriented clockwise (holes
   counter-clockwise) and closed (the first point is repeated at the end);
   contours of 3 points or fewer are dropped. The contour with the most
   points is kept (:func:`longest_contour`).
2. **Resampling** (:func:`upsample_contour`): segments longer than 3 pixels
   are split evenly so that no segment exceeds 3 pixels (float32
   arithmetic, as in the C++ code).
3. **Shape context** (:func:`shape_context`): for each contour point, a
   log-polar histogram (12 angle x 5 distance bins, radii from 1/8 to 2
   times the mean pairwise distance) of the positions of all contour
   points, itself included (Belongie et al.'s ``sc_compute``).
4. **Matching** (:func:`match_cost`): the chi-squared cost between every
   pair of histograms; a monotone alignment of the two closed contours by
   dynamic time warping (the benchmark's Dijkstra shortest path on the
   cost grid, moving right, down or diagonally), done twice: once from the
   (0, 0) alignment and once restarted just after the cheapest matched pair
   of the first path, so the circular start point of the contours does not
   matter; then a bijective subset of the matched pairs (each point of
   either contour keeps its cheapest match) and the mean cost of those
   pairs is T.

T is 0 for identical shapes and grows with deformation (lower is better);
it is NaN when either mask has no contour (an empty mask). The DAVIS
evaluation multiplies the per-frame values by 5
(:data:`TEMPORAL_STABILITY_SCALE`), averages them over a sequence ignoring
NaN, and reports the mean only.

Deviations from the benchmark (all on ties or corner cases the original
leaves to implementation details):

* **Saddle corners.** Where two foreground pixels touch only diagonally,
  PolyCont splits the boundary into pieces at that corner and reassembles
  them in an order that depends on the numbering of the pieces (and on
  ``std::unordered_map`` iteration order). This port always joins the
  diagonal pixels (8-connected foreground) and starts every contour, like
  PolyCont does for contours without such corners, at the top corner of its
  top-most, left-most vertical edge. Contours through a saddle corner can
  thus start at another point and have slightly different simplified
  vertices than in the benchmark.
* **Ties.** When two contours have the same number of points the last one
  in row-major order of their start points is kept (the C++ keeps the last
  one in its container order). When several alignment steps of the dynamic
  time warping have exactly the same accumulated cost, the diagonal step is
  preferred, then the step along the first contour (Boost's Dijkstra picks
  one depending on its heap order).
* The chi-squared costs are summed bin by bin (the Python original sums
  them with ``np.sum`` over a 3-D array), which can change the last bit of
  a cost.
"""
from __future__ import annotations

import math

import numpy as np

from cosnet_tf.evaluation._binary import as_binary_mask

#: Factor the DAVIS evaluation applies to the per-frame T values ("magic number").
TEMPORAL_STABILITY_SCALE = 5.0

# PolyCont works on a doubled lattice (pixel corners at even coordinates) with
# tolerances 0.1 and 3; on the pixel lattice used here these are 0.05 and 1.5.
_COLLINEAR_TOLERANCE = 0.05
_CONTOUR_TOLERANCE = 1.5
_UPSAMPLE_STEP = 3.0
_NBINS_THETA = 12
_NBINS_R = 5
_R_INNER = 1.0 / 8.0
_R_OUTER = 2.0
_HIST_EPS = 2.2204e-16  # the literal used by the benchmark's hist_cost_2

# Moves on the pixel-corner lattice: up, right, down, left (clockwise order).
_DROW = (-1, 0, 1, 0)
_DCOL = (0, 1, 0, -1)
_UP, _RIGHT, _DOWN, _LEFT = 0, 1, 2, 3


def _build_turn_table() -> list[list[int]]:
    """Next move at a corner, from its 2x2 pixel configuration and the arriving move.

    A configuration code is ``NW + 2*NE + 4*SW + 8*SE`` (1 = foreground) of
    the four pixels around the corner. Boundaries are walked with the
    foreground on the right, so outer contours run clockwise on screen.
    """
    table = [[-1] * 4 for _ in range(16)]
    for code in range(16):
        nw, ne, sw, se = (code >> 0) & 1, (code >> 1) & 1, (code >> 2) & 1, (code >> 3) & 1
        # A move is possible when the edge it follows has foreground on its right.
        outgoing = []
        if ne and not nw:
            outgoing.append(_UP)
        if se and not ne:
            outgoing.append(_RIGHT)
        if sw and not se:
            outgoing.append(_DOWN)
        if nw and not sw:
            outgoing.append(_LEFT)
        for arriving in range(4):
            if len(outgoing) == 1:
                table[code][arriving] = outgoing[0]
            elif len(outgoing) == 2:
                # Saddle: turn left, which keeps the two diagonal foreground
                # pixels on one contour (8-connected foreground).
                table[code][arriving] = (arriving - 1) % 4
    return table


_TURNS = _build_turn_table()


def _trace_boundaries(mask: np.ndarray) -> list[tuple[np.ndarray, bool]]:
    """Closed crack contours of a mask as ``(points, is_hole)``, in PolyCont's traversal order.

    Each contour is an ``(n + 1, 2)`` integer array of ``(row, col)`` pixel
    corners with the first point repeated at the end. Like PolyCont, a
    contour starts at the top corner of its top-most, left-most vertical
    edge and first walks down that edge.
    """
    height, width = mask.shape
    padded = np.zeros((height + 2, width + 2), np.uint8)
    padded[1:-1, 1:-1] = mask
    # Configuration code of every corner (row r, col c) in [0, H] x [0, W].
    codes = (
        padded[:-1, :-1] + 2 * padded[:-1, 1:] + 4 * padded[1:, :-1] + 8 * padded[1:, 1:]
    ).astype(np.int8)
    # Vertical edge from corner (r, c) to (r + 1, c) separates pixels (r, c-1) and (r, c).
    vertical = padded[1:-1, :-1] != padded[1:-1, 1:]
    if not vertical.any():
        return []
    code_rows = codes.tolist()
    visited = np.zeros_like(vertical)
    contours = []
    for start_row, start_col in np.argwhere(vertical):
        if visited[start_row, start_col]:
            continue
        outer = bool(padded[start_row + 1, start_col + 1])  # foreground east of the edge
        # Walk with the foreground on the right: outer contours go up this edge, holes down.
        if outer:
            row, col, move = int(start_row) + 1, int(start_col), _UP
        else:
            row, col, move = int(start_row), int(start_col), _DOWN
        first = (row, col, move)
        rows, cols = [], []
        while True:
            rows.append(row)
            cols.append(col)
            if move == _DOWN:
                visited[row, col] = True
            elif move == _UP:
                visited[row - 1, col] = True
            row += _DROW[move]
            col += _DCOL[move]
            move = _TURNS[code_rows[row][col]][move]
            if (row, col, move) == first:
                break
        points = np.stack([np.asarray(rows), np.asarray(cols)], axis=1)
        if outer:
            # The walk went up the start edge: points are [bottom, top, p2, ..., pn].
            # PolyCont starts at the top corner and goes down the start edge, i.e.
            # [top, bottom, pn, ..., p2].
            points = np.concatenate([points[1::-1], points[:1:-1]], axis=0)
        points = np.concatenate([points, points[:1]], axis=0)
        contours.append((points, not outer))
    return contours


def _segment_distance2(start: np.ndarray, end: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Squared distances from ``points`` to the segment ``[start, end]`` (psimpl ``segment_distance2``)."""
    v = end - start
    w = points - start
    cw = w @ v
    cv = float(v @ v)
    fraction = np.where(cw <= 0, 0.0, np.where(cv <= cw, 1.0, cw / cv if cv else 0.0))
    projection = start + fraction[:, None] * v
    return ((points - projection) ** 2).sum(axis=1)


def _douglas_peucker(points: np.ndarray, tolerance: float) -> np.ndarray:
    """psimpl ``simplify_douglas_peucker``: radial-distance reduction, then Douglas-Peucker."""
    count = len(points)
    if count < 3 or tolerance == 0:
        return points.copy()
    tol2 = tolerance * tolerance
    # Radial distance: drop points closer than the tolerance to the last kept one.
    kept = [0]
    current = points[0]
    for index in range(1, count - 1):
        delta = points[index] - current
        if delta[0] * delta[0] + delta[1] * delta[1] < tol2:
            continue
        current = points[index]
        kept.append(index)
    kept.append(count - 1)
    reduced = points[kept]

    keys = np.zeros(len(reduced), bool)
    keys[0] = keys[-1] = True
    stack = [(0, len(reduced) - 1)]
    while stack:
        first, last = stack.pop()
        if last - first < 2:
            continue
        d2 = _segment_distance2(reduced[first], reduced[last], reduced[first + 1 : last])
        # psimpl keeps the last point among equally distant ones.
        offset = len(d2) - 1 - int(np.argmax(d2[::-1]))
        if d2[offset] > tol2:
            key = first + 1 + offset
            keys[key] = True
            stack.append((key, last))
            stack.append((first, key))
    return reduced[keys]


def _is_clockwise(points: np.ndarray) -> bool:
    """PolyCont ``is_clockwise`` on ``(row, col)`` points."""
    nxt = np.roll(points, -1, axis=0)
    total = np.sum((nxt[:, 0] - points[:, 0]) * (nxt[:, 1] + points[:, 1]))
    return bool(total > 0)


def mask_contours(mask) -> list[np.ndarray]:
    """Simplified closed contours of a mask, as the DAVIS T measure sees them.

    Args:
        mask: ``(height, width)`` mask, nonzero is foreground.

    Returns:
        A list of ``(n, 2)`` int arrays of ``(x, y)`` = (column, row) pixel
        corner coordinates, first point repeated at the end; outer contours
        clockwise on screen, holes counter-clockwise; contours of 3 points
        or fewer dropped. Empty for an empty mask.

    Example: a 3x3 square has a 4-corner contour.

    >>> import numpy as np
    >>> m = np.zeros((6, 6), bool); m[1:4, 2:5] = True
    >>> mask_contours(m)[0].tolist()
    [[2, 1], [5, 1], [5, 4], [2, 4], [2, 1]]
    """
    mask = as_binary_mask(mask, "mask")
    contours = []
    for points, is_hole in _trace_boundaries(mask):
        points = points.astype(np.float64)
        points = _douglas_peucker(points, _COLLINEAR_TOLERANCE)
        points = _douglas_peucker(points, _CONTOUR_TOLERANCE)
        if _is_clockwise(points) == is_hole:  # outer contours clockwise, holes counter-clockwise
            points = points[::-1]
        if len(points) <= 3:
            continue
        contours.append(points[:, ::-1].astype(np.int64))  # (row, col) -> (x, y)
    return contours


def longest_contour(mask) -> np.ndarray | None:
    """The contour with the most points (the last of equally long ones), or ``None``.

    >>> import numpy as np
    >>> longest_contour(np.zeros((4, 4))) is None
    True
    """
    best = None
    for contour in mask_contours(mask):
        if best is None or len(best) <= len(contour):
            best = contour
    return best


def upsample_contour(contour, max_step: float = _UPSAMPLE_STEP) -> np.ndarray:
    """Split every segment longer than ``max_step`` into equal parts (float32, as the C++ code).

    The segment from ``p`` to ``q`` of length ``L > max_step`` gets
    ``ceil(L / max_step) - 1`` points in between. The last point is not joined
    back to the first (the contours of :func:`mask_contours` are already closed).

    >>> upsample_contour([[0, 0], [6, 0], [6, 2]]).tolist()
    [[0.0, 0.0], [3.0, 0.0], [6.0, 0.0], [6.0, 2.0]]
    """
    contour = np.asarray(contour, dtype=np.float32)
    if contour.ndim != 2 or contour.shape[1] != 2 or len(contour) == 0:
        raise ValueError(f"contour must be a non-empty (n, 2) array, got shape {contour.shape}")
    step = np.float32(max_step)
    deltas = contour[1:] - contour[:-1]
    lengths = np.sqrt(deltas[:, 0] * deltas[:, 0] + deltas[:, 1] * deltas[:, 1])
    pieces = [contour[:1]]
    for index, length in enumerate(lengths):
        if length > step:
            n_segments = int(np.ceil(length / step))
            increment = deltas[index] / np.float32(n_segments)
            # Repeated float32 addition from the segment start, as the C++ loop does.
            walk = np.empty((n_segments, 2), np.float32)
            walk[0] = contour[index]
            walk[1:] = increment
            pieces.append(np.add.accumulate(walk, axis=0, dtype=np.float32)[1:])
        pieces.append(contour[index + 1 : index + 2])
    return np.concatenate(pieces, axis=0)


def shape_context(points) -> np.ndarray:
    """Log-polar shape-context histograms (12 angles x 5 radii) of a point set.

    Row ``i`` counts, for every point ``j`` (``i`` itself included) within
    twice the mean pairwise distance, the angle bin of the direction from
    ``i`` to ``j`` and the log-distance bin of their distance. Bin
    ``r * 12 + t`` holds radius bin ``r`` (0 = farthest) and angle bin ``t``.

    Returns:
        ``(n, 60)`` int64 array.

    Example: the two end points of three collinear points are 2.25 mean
    distances apart, too far to see each other.

    >>> import numpy as np
    >>> shape_context(np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])).sum(axis=1).tolist()
    [2, 3, 2]
    """
    points = np.asarray(points, dtype=np.float64)
    x = points[:, 0]
    y = points[:, 1]
    dx = x[None, :] - x[:, None]  # from point i (row) to point j (column)
    dy = y[None, :] - y[:, None]
    distances = np.sqrt(dx * dx + dy * dy)
    mean_distance = np.mean(distances)
    normalised = distances / mean_distance
    edges = np.logspace(np.log10(_R_INNER), np.log10(_R_OUTER), _NBINS_R)
    radius_bin = np.zeros(distances.shape, np.int64)
    for edge in edges:
        radius_bin += normalised < edge
    theta = np.arctan2(dy, dx)
    theta = np.fmod(np.fmod(theta, 2 * np.pi) + 2 * np.pi, 2 * np.pi)
    theta_bin = np.floor(theta / (2 * np.pi / _NBINS_THETA)).astype(np.int64)
    inside = radius_bin > 0
    rows = np.broadcast_to(np.arange(len(points))[:, None], distances.shape)[inside]
    bins = (radius_bin[inside] - 1) * _NBINS_THETA + theta_bin[inside]
    flat = rows * (_NBINS_THETA * _NBINS_R) + bins
    counts = np.bincount(flat, minlength=len(points) * _NBINS_THETA * _NBINS_R)
    return counts.reshape(len(points), _NBINS_THETA * _NBINS_R)


def histogram_cost(histograms_a, histograms_b) -> np.ndarray:
    """Chi-squared cost between every pair of normalised histograms (``hist_cost_2``).

    >>> import numpy as np
    >>> h = np.array([[2, 0], [0, 2]])
    >>> histogram_cost(h, h).round(6).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    a = np.asarray(histograms_a, dtype=np.float64)
    b = np.asarray(histograms_b, dtype=np.float64)
    a = a / (a.sum(axis=1, keepdims=True) + _HIST_EPS)
    b = b / (b.sum(axis=1, keepdims=True) + _HIST_EPS)
    cost = np.zeros((len(a), len(b)))
    # Bin by bin keeps memory at one (n_a, n_b) matrix instead of (n_a, n_b, bins).
    for k in range(a.shape[1]):
        column_a = a[:, k][:, None]
        column_b = b[:, k][None, :]
        if not (column_a.any() or column_b.any()):
            continue
        difference = column_a - column_b
        cost += difference * difference / (column_a + column_b + _HIST_EPS)
    return 0.5 * cost


def _warping_path(cost: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Cheapest monotone path from (0, 0) to the last cell and its cheapest cell.

    Port of the benchmark's ``match_dijkstra``: nodes are the cells, a cell is
    entered from its upper, left or upper-left neighbour at the cost of the
    cell entered (the start cell is free). Returns the path from the last cell
    back to (0, 0) and the cheapest cell on it, the start cell excluded (the
    one nearest the end among equally cheap cells).
    """
    n1, n2 = cost.shape
    stride = n2 + 1
    # Accumulated cost with a border of +inf: cell (x, y) lives at [x + 1, y + 1].
    total = np.full((n1 + 1) * stride, np.inf)
    total[stride + 1] = 0.0
    step = np.zeros((n1, n2), np.int8)  # 0 diagonal, 1 from (x-1, y), 2 from (x, y-1)
    # Anti-diagonals x + y = k only depend on the two previous ones.
    for k in range(1, n1 + n2 - 1):
        xs = np.arange(max(0, k - n2 + 1), min(k, n1 - 1) + 1)
        ys = k - xs
        cells = (xs + 1) * stride + (ys + 1)
        best = total[cells - stride - 1]
        choice = np.zeros(len(xs), np.int8)
        from_above = total[cells - stride]
        better = from_above < best
        best = np.where(better, from_above, best)
        choice[better] = 1
        from_left = total[cells - 1]
        better = from_left < best
        best = np.where(better, from_left, best)
        choice[better] = 2
        total[cells] = best + cost[xs, ys]
        step[xs, ys] = choice
    path = []
    x, y = n1 - 1, n2 - 1
    while (x, y) != (0, 0):
        path.append((x, y))
        move = step[x, y]
        if move == 0:
            x, y = x - 1, y - 1
        elif move == 1:
            x -= 1
        else:
            y -= 1
    path.append((0, 0))
    path = np.asarray(path, dtype=np.int64)
    if len(path) == 1:
        return path, (0, 0)
    cheapest = int(np.argmin(cost[path[:-1, 0], path[:-1, 1]]))
    return path, (int(path[cheapest, 0]), int(path[cheapest, 1]))


def _keep_cheapest(pairs: np.ndarray, costs: np.ndarray, column: int) -> tuple[np.ndarray, np.ndarray]:
    """For each distinct value of ``pairs[:, column]`` keep its cheapest pair (the first among ties)."""
    order = np.lexsort((np.arange(len(pairs)), costs, pairs[:, column]))
    keys = pairs[order, column]
    first = np.ones(len(order), bool)
    first[1:] = keys[1:] != keys[:-1]
    chosen = order[first]
    return pairs[chosen], costs[chosen]


def match_cost(cost) -> float:
    """Mean cost of the bijective circular alignment of two contours (the T of one frame pair).

    Args:
        cost: ``(n1, n2)`` matrix of matching costs between the points of two
            closed contours (e.g. :func:`histogram_cost`).

    >>> import numpy as np
    >>> match_cost(1.0 - np.eye(5))  # identical contours: the diagonal is free
    0.0
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2 or 0 in cost.shape:
        raise ValueError(f"cost must be a non-empty 2-D matrix, got shape {cost.shape}")
    n1, n2 = cost.shape
    _, (min_x, min_y) = _warping_path(cost)
    # Restart the alignment right after the cheapest matched pair.
    shifted = np.roll(np.roll(cost, -(min_y + 1), axis=1), -(min_x + 1), axis=0)
    pairs, _ = _warping_path(shifted)
    pairs = np.stack([(pairs[:, 0] + min_x + 1) % n1, (pairs[:, 1] + min_y + 1) % n2], axis=1)
    pair_costs = cost[pairs[:, 0], pairs[:, 1]]
    pairs, pair_costs = _keep_cheapest(pairs, pair_costs, 0)
    pairs, pair_costs = _keep_cheapest(pairs, pair_costs, 1)
    return float(np.mean(pair_costs))


class _ContourDescriptor:
    """The resampled longest contour of a mask and its shape-context histograms."""

    __slots__ = ("points", "histograms")

    def __init__(self, points: np.ndarray, histograms: np.ndarray):
        self.points = points
        self.histograms = histograms


def contour_descriptor(mask) -> _ContourDescriptor | None:
    """Shape description of a mask for T, or ``None`` if it has no contour.

    Computing it once per frame lets a sequence evaluation reuse it for the
    two frame pairs a frame belongs to (see :func:`descriptor_stability`).
    """
    contour = longest_contour(mask)
    if contour is None:
        return None
    points = upsample_contour(contour)
    return _ContourDescriptor(points, shape_context(points))


def descriptor_stability(first: _ContourDescriptor | None, second: _ContourDescriptor | None) -> float:
    """T between two precomputed :func:`contour_descriptor` results (NaN if either is ``None``)."""
    if first is None or second is None:
        return math.nan
    return match_cost(histogram_cost(first.histograms, second.histograms))


def temporal_stability(first_mask, second_mask) -> float:
    """Temporal (in)stability between two masks, as DAVIS ``db_eval_t_stab`` (lower is better).

    The raw value, without the factor 5 the DAVIS evaluation applies
    (:data:`TEMPORAL_STABILITY_SCALE`).

    Args:
        first_mask: ``(height, width)`` mask of one frame, nonzero is foreground.
        second_mask: mask of the next frame (the shapes may differ).

    Returns:
        The mean shape-context matching cost between the two contours; NaN
        when either mask has no contour.

    Example: a translated shape is perfectly stable, a changing one is not.

    >>> import numpy as np
    >>> yy, xx = np.mgrid[:60, :60]
    >>> disk = (yy - 30) ** 2 + (xx - 28) ** 2 < 15 ** 2
    >>> temporal_stability(disk, np.roll(disk, 3, axis=1))
    0.0
    >>> square = np.zeros((60, 60), bool); square[10:50, 20:35] = True
    >>> temporal_stability(disk, square) > 0.1
    True
    >>> import math; math.isnan(temporal_stability(disk, np.zeros((60, 60))))
    True
    """
    first = as_binary_mask(first_mask, "first_mask")
    second = as_binary_mask(second_mask, "second_mask")
    return descriptor_stability(contour_descriptor(first), contour_descriptor(second))
