"""Bilinear resizing to a size known only at run time."""
import keras
import tensorflow as tf
from keras import ops


def resize_bilinear(images, size):
    """Resizes NHWC `images` to `size` = (height, width) bilinearly.

    Matches PyTorch's `F.interpolate(..., mode="bilinear", align_corners=False)`
    (half-pixel centres, no antialiasing), which is what the authors' COSNet
    uses for every upsampling to the input size.

    `keras.ops.image.resize` needs a static size when traced into a TensorFlow
    graph, but a served model sees frames of any size, so under the TensorFlow
    backend this calls `tf.image.resize`, which accepts a size tensor.
    """
    if keras.backend.backend() == "tensorflow":

        return tf.image.resize(images, size, method="bilinear")
    return ops.image.resize(
        images, (int(size[0]), int(size[1])), interpolation="bilinear", antialias=False
    )


@keras.saving.register_keras_serializable(package="cosnet_tf")
class ResizeLike(keras.layers.Layer):
    """Resizes its first input to the spatial size of its second.

    Example:

    >>> import numpy as np
    >>> layer = ResizeLike()
    >>> tuple(layer(np.ones((1, 4, 5, 1)), np.ones((1, 16, 20, 3))).shape)
    (1, 16, 20, 1)
    """

    def call(self, inputs, reference):
        shape = ops.shape(reference)
        return resize_bilinear(inputs, (shape[1], shape[2]))

    def compute_output_shape(self, inputs_shape, reference_shape):
        return (inputs_shape[0], reference_shape[1], reference_shape[2], inputs_shape[3])
