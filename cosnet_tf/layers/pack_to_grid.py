"""Packs a finer feature map onto a coarser grid, so one tensor carries both."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cosnet_tf")
class PackToGrid(keras.layers.Layer):
    """Pads a map at its bottom and right to a multiple of `factor`, then moves each cell into channels.

    [B, H, W, C] -> [B, ceil(H/f), ceil(W/f), f*f*C] (`keras.ops.space_to_depth`
    after zero padding). The backbone uses it to carry stride-4 features for the
    head's decoder on the stride-8 or stride-16 grid of the embedding, so a
    frame's embedding stays one tensor: the feature store, `segment` and the
    SavedModel signatures pass it on unchanged. With "same" padding each
    stride-2 layer maps a size n to ceil(n / 2), and ceil(ceil(n / a) / b) =
    ceil(n / (a b)), so the packed map has exactly the coarse map's size.
    `keras.ops.depth_to_space(packed, factor)` unpacks it (with the padding).

    Example:

    >>> import numpy as np
    >>> fine = np.random.rand(1, 25, 13, 24).astype("float32")
    >>> tuple(PackToGrid(factor=2)(fine).shape)
    (1, 13, 7, 96)
    """

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        if int(factor) < 1:
            raise ValueError(f"`factor` must be >= 1, got {factor}.")
        self.factor = int(factor)

    def call(self, inputs):
        f = self.factor
        if f == 1:
            return inputs
        shape = ops.shape(inputs)
        pad_h, pad_w = (-shape[1]) % f, (-shape[2]) % f
        padded = ops.pad(inputs, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]])
        return ops.space_to_depth(padded, f)

    def compute_output_shape(self, input_shape):
        f = self.factor

        def packed(size):
            return None if size is None else -(-size // f)

        channels = None if input_shape[-1] is None else input_shape[-1] * f * f
        return (input_shape[0], packed(input_shape[1]), packed(input_shape[2]), channels)

    def get_config(self):
        config = super().get_config()
        config.update(factor=self.factor)
        return config
