"""Which frames of a video serve as a query's reference frames (Table 1 of the paper).

COSNet segments a query frame from its co-attention with N reference frames
of the same video. The paper compares three ways of choosing them (Table 1):

* ``"uniform"`` -- global uniform sampling: N frames evenly spread over the
  whole video (the centres of N equal segments), the same set for every query.
  The paper's choice.
* ``"random"`` -- global random sampling: N frames drawn once per video with a
  seeded random generator, the same set for every query.
* ``"local"`` -- local consecutive sampling: the N frames nearest the query,
  clipped at the ends of the video.

The query itself is never one of its own references while the video has
another frame to use instead: with a global strategy, a query that belongs to
the global set swaps itself for one spare frame (uniform: its nearest frame
outside the set; random: one extra frame drawn with the set), so the set
stays the same for all other queries and the features of at most 2N frames
are ever needed as references. A video with fewer than N other frames gives
all of them; a one-frame video gives the frame itself (the Siamese network
accepts a frame paired with itself), so N > 0 always keeps co-attention on.
"""
from __future__ import annotations

import copy
import numbers

import numpy as np

from cosnet_tf.utils.choices import SAMPLING_STRATEGIES


def _check_count(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _generator(rng):
    """A generator to draw from without advancing the caller's.

    Drawing from a copy makes the draw a pure function of the seed (or of the
    generator's current state): every query of a video then sees the same
    global random set, which is what "drawn once per video" means, even when
    the caller asks query by query.
    """
    if rng is None:
        return np.random.default_rng(0)
    if isinstance(rng, np.random.Generator):
        return copy.deepcopy(rng)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be None, an integer seed or a numpy Generator, got {rng!r}")


def uniform_indices(num_frames, count):
    """``count`` frame indices evenly spread over ``num_frames``: centres of equal segments.

    >>> uniform_indices(10, 3)
    [1, 5, 8]
    >>> uniform_indices(4, 4)
    [0, 1, 2, 3]
    """
    return [int((k + 0.5) * num_frames / count) for k in range(count)]


def _nearest_outside(num_frames, index, taken):
    """The frame nearest ``index`` (the later one on a tie) that is not in ``taken``."""
    for distance in range(1, num_frames):
        for candidate in (index + distance, index - distance):
            if 0 <= candidate < num_frames and candidate not in taken:
                return candidate
    raise ValueError("no frame left outside the reference set")  # callers make sure there is one


def global_reference_plan(num_frames, num_references, sampling, rng=None):
    """The global set of a video and each member's spare: ``(base, spares)``.

    ``base`` holds the N sorted indices every query uses; ``spares`` maps a
    member of ``base`` to the frame that replaces it when that member is
    itself the query. Only meaningful when ``num_frames > num_references``.

    >>> global_reference_plan(10, 3, "uniform")
    ([1, 5, 8], {1: 2, 5: 6, 8: 9})
    """
    if sampling == "uniform":
        base = uniform_indices(num_frames, num_references)
        taken = set(base)
        spares = {index: _nearest_outside(num_frames, index, taken) for index in base}
    elif sampling == "random":
        # One draw of N + 1 distinct frames: N for the set, one spare shared by
        # all members (a query replaces itself with it).
        drawn = _generator(rng).choice(num_frames, size=num_references + 1, replace=False)
        base = sorted(int(i) for i in drawn[:num_references])
        spares = {index: int(drawn[num_references]) for index in base}
    else:
        raise ValueError(f"{sampling!r} is not a global sampling strategy")
    return base, spares


def reference_schedule(num_frames, num_references, sampling="uniform", rng=None):
    """The references of every query of one video, as a function ``query_index -> list``.

    The per-video work (the global set, its spares, the random draw) is done
    once here, so a segmenter asks for T queries' references in O(T N) time.
    ``reference_schedule(T, N, s, rng)(q) == select_reference_indices(T, q, N, s, rng)``.

    Example:

    >>> refs = reference_schedule(10, 3, "uniform")
    >>> [refs(q) for q in (0, 5, 9)]
    [[1, 5, 8], [1, 6, 8], [1, 5, 8]]
    """
    num_frames = _check_count("num_frames", num_frames, 1)
    num_references = _check_count("num_references", num_references, 0)
    if sampling not in SAMPLING_STRATEGIES:
        raise ValueError(f"unknown sampling {sampling!r}; expected one of {SAMPLING_STRATEGIES}")
    if sampling == "random":
        _generator(rng)  # reject a bad rng now, not at the first query

    def check(query_index):
        query_index = _check_count("query_index", query_index, 0)
        if query_index >= num_frames:
            raise ValueError(f"query_index {query_index} is outside a video of {num_frames} frames")
        return query_index

    if num_references == 0 or num_frames == 1 or num_references >= num_frames - 1:
        def small(query_index):
            query_index = check(query_index)
            if num_references == 0:
                return []
            if num_frames == 1:
                return [0]
            # Every other frame: the only set without the query that is large enough.
            return [i for i in range(num_frames) if i != query_index]

        return small
    if sampling == "local":
        def local(query_index):
            query_index = check(query_index)
            # Nearest first, the earlier frame on a tie; clipping at an end
            # makes the window slide inwards so that it still holds N frames.
            window = range(max(0, query_index - num_references),
                           min(num_frames, query_index + num_references + 1))
            order = sorted((i for i in window if i != query_index),
                           key=lambda i: (abs(i - query_index), i))
            return sorted(order[:num_references])

        return local
    base, spares = global_reference_plan(num_frames, num_references, sampling, rng)

    def global_set(query_index):
        query_index = check(query_index)
        if query_index in spares:
            return sorted(spares[query_index] if i == query_index else i for i in base)
        return list(base)

    return global_set


def video_reference_plan(num_frames, num_references, sampling="uniform", rng=None):
    """The references of every query of one video, in query order: what a video loop streams over.

    The one plan of `cosnet segment` and `cosnet predict` (`stream_video`), so
    both pick the same references for a query.

    >>> video_reference_plan(4, 1, "local")
    [[1], [0], [1], [2]]
    """
    schedule = reference_schedule(num_frames, num_references, sampling, rng)
    return [schedule(query) for query in range(num_frames)]


def select_reference_indices(num_frames, query_index, num_references, sampling="uniform", rng=None):
    """The reference frames of one query frame, as sorted frame indices.

    Args:
        num_frames: frames in the video, T >= 1.
        query_index: the query frame, 0 <= q < T.
        num_references: N >= 0; 0 gives no references (the frame-by-frame
            baseline, Table 2).
        sampling: ``"uniform"``, ``"random"`` or ``"local"`` (see the module
            docstring).
        rng: for ``"random"``: None (seed 0), an integer seed, or a
            ``numpy.random.Generator`` (copied, never advanced). The set
            depends only on it and T, so each query of a video gets the same one.

    Returns:
        ``min(N, T - 1)`` distinct indices other than the query, sorted; for
        a one-frame video with N > 0, ``[0]``.

    Example:

    >>> select_reference_indices(10, 0, 3, "uniform")   # the centres of 3 segments
    [1, 5, 8]
    >>> select_reference_indices(10, 5, 3, "uniform")   # 5 is the query: its neighbour stands in
    [1, 6, 8]
    >>> select_reference_indices(10, 4, 3, "local")     # nearest first: 3, 5, then 2
    [2, 3, 5]
    >>> select_reference_indices(10, 9, 3, "local")     # clipped at the end
    [6, 7, 8]
    >>> a = select_reference_indices(100, 0, 5, "random", rng=7)
    >>> a == select_reference_indices(100, 50, 5, "random", rng=7) or 50 in a
    True
    >>> select_reference_indices(3, 1, 5, "uniform")    # fewer frames than N
    [0, 2]
    """
    return reference_schedule(num_frames, num_references, sampling, rng)(query_index)
