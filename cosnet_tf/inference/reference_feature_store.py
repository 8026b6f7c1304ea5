"""The features of a video's frames, each held from its encoding until its last use."""
from __future__ import annotations


class ReferenceFeatureStore:
    """Feature maps of the frames of one video, kept only while a query still needs them.

    The role of XMem's memory manager and Cutie's feature store: every frame is
    encoded once; its features serve its own query and every query that takes
    it as a reference, and are dropped after the last of them (`release`). With
    ``"uniform"`` or ``"random"`` sampling the global reference set (at most 2N
    frames) stays for the whole video; with ``"local"`` a sliding window.

    Args:
        plan: the sorted reference indices of every query, in query order
            (`reference_plan`).
        stack: maps a list of N feature maps to the references a core's
            ``segment`` takes (e.g. `InferenceCore.stack_references`). One
            stacked set is kept and reused while consecutive queries share it
            (global sets give the same set to almost every query).

    Example:

    >>> store = ReferenceFeatureStore([[1], [0], [0]], stack=tuple)
    >>> store.last_use
    [2, 1, 2]
    >>> store.add(0, "f0"); store.add(1, "f1")
    >>> store.references(0), store.references(1)
    (('f1',), ('f0',))
    >>> store.release(1); sorted(store)
    [0]
    """

    def __init__(self, plan, stack):
        self.plan = [list(references) for references in plan]
        self._stack = stack
        # The last query that needs each frame, as itself or as a reference.
        self.last_use = list(range(len(self.plan)))
        for query, references in enumerate(self.plan):
            for index in references:
                self.last_use[index] = max(self.last_use[index], query)
        self._features = {}
        self._stacked_key, self._stacked = None, None
        self.max_cached = 0

    def __contains__(self, index):
        return index in self._features

    def __iter__(self):
        return iter(self._features)

    def __len__(self):
        return len(self._features)

    def __getitem__(self, index):
        return self._features[index]

    def add(self, index, features):
        self._features[index] = features
        self.max_cached = max(self.max_cached, len(self._features))

    def references(self, query):
        """The stacked features of `query`'s references, or None when it has none."""
        references = tuple(self.plan[query])
        if not references:
            return None
        if references != self._stacked_key:
            self._stacked_key = references
            self._stacked = self._stack([self._features[index] for index in references])
        return self._stacked

    def release(self, query):
        """Drops the features no query after `query` needs."""
        for index in set(self.plan[query]) | {query}:
            if self.last_use[index] <= query:
                self._features.pop(index, None)
        if self._stacked_key is not None and any(index not in self._features for index in self._stacked_key):
            self._stacked_key, self._stacked = None, None
