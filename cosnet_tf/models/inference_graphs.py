"""A model's compiled inference functions, kept with the model."""
import tensorflow as tf


class InferenceGraphs:
    """`tf.function`s of one model, built on first use and shared by everything that segments with it.

    Every `VideoSegmenter` (one per N, fusion or sampling, say) of a model
    reuses the model's graphs, so each kind of call is traced once per model,
    not once per segmenter; the graphs go when the model goes. A plain object
    on purpose: neither Keras nor TensorFlow tracks what it holds, so the
    functions never enter a `.keras` file or a SavedModel.

    Example:

    >>> graphs = InferenceGraphs()
    >>> double = graphs.get(("double",), lambda: lambda x: 2 * x)
    >>> int(double(3)), graphs.get(("double",), None) is double
    (6, True)
    """

    def __init__(self):
        self._functions = {}

    def get(self, key, build):
        """The function stored under `key`; on first use, `tf.function(build())`."""
        if key not in self._functions:
            # reduce_retracing: one trace for all frame and batch sizes after the first change.
            self._functions[key] = tf.function(build(), reduce_retracing=True)
        return self._functions[key]

    def __len__(self):
        return len(self._functions)
