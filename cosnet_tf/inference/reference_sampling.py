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


def _uniform_indices(num_frames, count):
    """``count`` frame indices evenly spread over ``num_frames``: centres of equal segments."""
    return [int((k + 0.5) * num_frames / count) for k in range(count)]


def _nearest_outside(num_frames, index, taken):
    """The frame nearest ``index`` (the later one on a tie) that is not in ``taken``."""
    for distance in range(1, num_frames):
        for candidate in (index + distance, index - distance):
            if 0 <= candidate < num_frames and candidate not in taken:
                return candidate
    raise ValueError("no frame left outside the reference set")  # callers make sure there is one


def _global_set(num_frames, num_references, sampling, rng):
    """The global set of a video and each member's spare: ``(base, spares)`` (T > N)."""
    if sampling == "uniform":
        base = _uniform_indices(num_frames, num_references)
        taken = set(base)
        spares = {index: _nearest_outside(num_frames, index, taken) for index in base}
    else:
        # One draw of N + 1 frames: the set, and one spare that a member replaces itself with.
        drawn = _generator(rng).choice(num_frames, size=num_references + 1, replace=False)
        base = sorted(int(i) for i in drawn[:num_references])
        spares = {index: int(drawn[num_references]) for index in base}
    return base, spares


def _local(num_frames, num_references, query):
    # Nearest first, earlier on a tie; at an end the window slides inwards to keep N frames.
    window = range(max(0, query - num_references), min(num_frames, query + num_references + 1))
    order = sorted((i for i in window if i != query), key=lambda i: (abs(i - query), i))
    return sorted(order[:num_references])


def reference_plan(num_frames, num_references, sampling="uniform", rng=None):
    """The reference frames of every query frame of one video: ``plan[q]`` is query q's, sorted.

    The one way the package chooses references: `cosnet segment`
    (`VideoSegmenter`), `cosnet predict`, the explainer and the evaluations all
    take a query's references from this plan, so they agree. The per-video work
    (the global set, its spares, the random draw) is done once.

    Args:
        num_frames: frames in the video, T >= 1.
        num_references: N >= 0; 0 gives no references (the frame-by-frame
            baseline, Table 2).
        sampling: ``"uniform"``, ``"random"`` or ``"local"`` (see the module
            docstring).
        rng: for ``"random"``: None (seed 0), an integer seed, or a
            ``numpy.random.Generator`` (copied, never advanced). The set
            depends only on it and T.

    Returns:
        A list of T lists: for each query, ``min(N, T - 1)`` distinct indices
        other than the query, sorted; for a one-frame video with N > 0, ``[[0]]``.

    Example:

    >>> reference_plan(10, 3, "uniform")[0]    # the centres of 3 segments
    [1, 5, 8]
    >>> reference_plan(10, 3, "uniform")[5]    # 5 is the query: its neighbour stands in
    [1, 6, 8]
    >>> reference_plan(10, 3, "local")[4]      # nearest first: 3, 5, then 2
    [2, 3, 5]
    >>> reference_plan(10, 3, "local")[9]      # clipped at the end
    [6, 7, 8]
    >>> plan = reference_plan(100, 5, "random", rng=7)
    >>> plan[0] == plan[50] or 50 in plan[0]
    True
    >>> reference_plan(3, 5, "uniform")        # fewer frames than N
    [[1, 2], [0, 2], [0, 1]]
    >>> reference_plan(4, 1, "local")
    [[1], [0], [1], [2]]
    """
    num_frames = _check_count("num_frames", num_frames, 1)
    num_references = _check_count("num_references", num_references, 0)
    if sampling not in SAMPLING_STRATEGIES:
        raise ValueError(f"unknown sampling {sampling!r}; expected one of {SAMPLING_STRATEGIES}")
    if sampling == "random":
        _generator(rng)  # a bad rng fails here, whatever T and N
    queries = range(num_frames)
    if num_references == 0:
        return [[] for _ in queries]
    if num_frames == 1:
        return [[0]]
    if num_references >= num_frames - 1:
        # Every other frame: the only set without the query that is large enough.
        return [[i for i in queries if i != query] for query in queries]
    if sampling == "local":
        return [_local(num_frames, num_references, query) for query in queries]
    base, spares = _global_set(num_frames, num_references, sampling, rng)
    return [
        sorted(spares[query] if i == query else i for i in base) if query in spares else list(base)
        for query in queries
    ]
