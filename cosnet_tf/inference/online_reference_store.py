"""The reference memory of online segmentation: frames already seen, a hard limit on what is kept.

Online, a query's references can come only from frames already seen, and a
stream may never end, so the memory keeps a bounded set of them.
:class:`OnlineReferenceStore` holds the one rule that decides which, and
:func:`online_order` the one schedule of when each frame is segmented (used by
`OnlineSegmenter`, `cosnet segment --online`, and :func:`online_reference_plan`).
"""
from __future__ import annotations

from collections import deque

from cosnet_tf.utils.validation import non_negative_int


def _uniform_pick(indices, count):
    """``count`` of ``indices`` (sorted) evenly spread: the centres of ``count`` equal segments."""
    if len(indices) <= count:
        return list(indices)
    return [indices[int((k + 0.5) * len(indices) / count)] for k in range(count)]


class OnlineReferenceStore:
    """Features of frames seen, at most :attr:`limit` of them, and each query's references.

    The rule (online global uniform sampling plus the latest frames): frames whose index is a
    multiple of a stride are kept, the stride doubling whenever more than ``2 (N - recent)``
    would be held, so the kept frames stay evenly spread over the whole past (frame 0
    always among them); the ``recent`` latest frames are kept too. A query's N references
    are the ``recent`` latest frames and ``N - recent`` of the spread ones, evenly spread.
    Why: global sampling beats local sampling (Table 1) and the spread set is its bounded
    online twin; one recent frame follows a scene that changes (dev J 0.645 with it, 0.640 without).

    The first frame has no past: with N > 0 it is its own reference, as a one-frame video
    is offline (`reference_plan`), so co-attention stays on.

    Args:
        num_references: N >= 0.
        stack: maps a list of feature maps to what a core's ``segment`` takes
            (``InferenceCore.stack_references``); None for index-only use.
        recent: how many of the latest frames are always references (0 <= recent <= N).

    Example:

    >>> store = OnlineReferenceStore(3, stack=list, recent=1)
    >>> store.limit
    5
    >>> for index in range(20):
    ...     _ = store.add(index, f"f{index}")
    >>> sorted(store), store.reference_indices(20)
    ([0, 8, 16, 19], [0, 16, 19])
    >>> store.references(20, "f20")
    ['f0', 'f16', 'f19']
    """

    def __init__(self, num_references, stack=None, recent=1):
        self.num_references = non_negative_int("num_references", num_references)
        self.recent = min(non_negative_int("recent", recent), self.num_references)
        self.spread_capacity = 2 * (self.num_references - self.recent)
        self._stack = stack
        self._stride = 1
        self._spread = []  # kept indices that are multiples of the stride, ascending
        self._latest = deque(maxlen=self.recent)
        self._features = {}
        self.next_index = 0
        self.max_cached = 0

    @property
    def limit(self):
        """The most feature maps ever held at once."""
        return self.spread_capacity + self.recent

    def __len__(self):
        return len(self._features)

    def __iter__(self):
        return iter(self._features)

    def __contains__(self, index):
        return index in self._features

    def reference_indices(self, query):
        """The sorted reference indices of ``query``: the next frame, or one already added.

        References are held frames other than the query itself; a query with none (frame 0)
        is its own reference.
        """
        if not 0 <= query <= self.next_index:
            raise ValueError(f"frames arrive in order: expected frame {self.next_index} or an earlier one, "
                             f"got {query}")
        if self.num_references == 0:
            return []
        latest = [index for index in self._latest if index != query]
        spread = [index for index in self._spread if index not in latest and index != query]
        indices = sorted(latest + _uniform_pick(spread, self.num_references - len(latest)))
        return indices or [query]

    def references(self, query, features):
        """The stacked references of ``query`` (its own ``features`` stand in when it is its own), or None."""
        indices = self.reference_indices(query)
        if not indices:
            return None
        maps = [features if index == query else self._features[index] for index in indices]
        return self._stack(maps) if self._stack is not None else maps

    def add(self, index, features):
        """Remembers frame ``index`` (the next one) if the rule keeps it; returns the indices dropped."""
        if index != self.next_index:
            raise ValueError(f"frames arrive in order: expected frame {self.next_index}, got {index}")
        self.next_index += 1
        if self.limit == 0:
            return []
        self._latest.append(index)
        if self.spread_capacity and index % self._stride == 0:
            self._spread.append(index)
            while len(self._spread) > self.spread_capacity:
                self._stride *= 2
                self._spread = [i for i in self._spread if i % self._stride == 0]
        self._features[index] = features
        keep = set(self._spread) | set(self._latest)
        dropped = [i for i in self._features if i not in keep]
        for i in dropped:
            del self._features[i]
        self.max_cached = max(self.max_cached, len(self._features))
        return dropped


def online_order(frames, store, lag=0, stored=None):
    """Feeds ``store`` the ``(index, item)`` pairs of ``frames``; yields each ``(index, item)`` when it is due.

    The one schedule of online segmentation: a frame is due once ``lag`` later frames have
    arrived (or the stream has ended), and is segmented against the store as it is then. With
    ``lag = 0`` each frame is due before it joins the store, so its references are all earlier
    frames; with ``lag = L`` they may be any of the next L frames too, and each mask comes L
    frames late. At most ``lag`` items wait, beside what the store holds; they are still
    yielded when the stream ends, or when Ctrl-C stops the reading of ``frames`` (where a
    live stream spends its time). ``stored`` maps an
    item to what the store keeps of it (default: the item).

    >>> store = OnlineReferenceStore(2, recent=1)
    >>> [(index, store.reference_indices(index)) for index, _ in online_order(enumerate("abcd"), store, lag=1)]
    [(0, [1]), (1, [0, 2]), (2, [0, 3]), (3, [0, 2])]
    """
    lag = non_negative_int("lag", lag)
    stored = stored or (lambda item: item)
    waiting = deque()
    try:
        for index, item in frames:
            if lag == 0:
                yield index, item
                store.add(index, stored(item))
                continue
            store.add(index, stored(item))
            waiting.append((index, item))
            if len(waiting) > lag:
                yield waiting.popleft()
    except KeyboardInterrupt:  # a user's stop: the frames already read still get their masks
        while waiting:
            yield waiting.popleft()
        raise
    while waiting:
        yield waiting.popleft()


def online_reference_plan(num_frames, num_references, recent=1, lag=0):
    """The references every frame of a ``num_frames`` stream gets online (`OnlineReferenceStore`).

    The offline `reference_plan`'s online counterpart: with it, `stream_video` gives the
    online masks of a stored video (`OnlineSegmenter.segment_encoded`).

    >>> online_reference_plan(6, 2)
    [[0], [0], [0, 1], [0, 2], [2, 3], [0, 4]]
    >>> online_reference_plan(6, 2, lag=2)
    [[2], [2, 3], [0, 4], [4, 5], [0, 5], [0, 4]]
    """
    store = OnlineReferenceStore(num_references, recent=recent)
    plan = [None] * num_frames
    for query, _ in online_order(((index, None) for index in range(num_frames)), store, lag):
        plan[query] = store.reference_indices(query)
    return plan
