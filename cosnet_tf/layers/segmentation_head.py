"""The segmentation module of COSNet (Section 3.3) and the saliency side output."""
import keras
from keras import layers, ops

from cosnet_tf.layers.resize import resize_bilinear


@keras.saving.register_keras_serializable(package="cosnet_tf")
class SegmentationHead(keras.layers.Layer):
    """Small-kernel convolutions, a 1x1 classifier, bilinear upsampling, sigmoid.

    `depth` blocks of 3x3 convolution (no bias) -> batch norm -> ReLU, then a
    1x1 convolution with bias to one channel, bilinear upsampling to the input
    frame's size and a sigmoid. The authors' code uses one block reading the
    2C-channel co-attention feature X of Eq. 10 (`conv1`, `bn1`,
    `main_classifier1`); the paper describes two (Section 3.3). With
    `depth=0` it is a 1x1 classifier: the saliency side output of the
    still-image stream (`encoder.main_classifier`). With
    `synchronized_batch_norm`, the batch norms take their statistics over the
    global batch of a `tf.distribute` strategy rather than each replica's part
    (for small per-replica batches).

    Call arguments:
        features: NHWC features.
        output_size: (height, width) to upsample to; `None` keeps the
            feature resolution.
        return_logits: return pre-sigmoid values instead of probabilities.

    Example:

    >>> import numpy as np
    >>> head = SegmentationHead(filters=16, depth=1)
    >>> x = np.random.rand(1, 6, 8, 32).astype("float32")
    >>> tuple(head(x, output_size=(45, 61)).shape)
    (1, 45, 61, 1)
    """

    def __init__(
        self,
        filters=256,
        depth=1,
        batch_norm_epsilon=1e-5,
        batch_norm_momentum=0.9,
        synchronized_batch_norm=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if depth < 0:
            raise ValueError(f"`depth` must be >= 0, got {depth}.")
        self.filters = int(filters)
        self.depth = int(depth)
        self.batch_norm_epsilon = float(batch_norm_epsilon)
        self.batch_norm_momentum = float(batch_norm_momentum)
        self.synchronized_batch_norm = bool(synchronized_batch_norm)
        self.convs, self.norms = [], []
        for i in range(self.depth):
            self.convs.append(
                layers.Conv2D(
                    self.filters,
                    3,
                    padding="same",
                    use_bias=False,
                    kernel_initializer="he_normal",
                    name=f"conv{i + 1}",
                )
            )
            self.norms.append(
                layers.BatchNormalization(
                    epsilon=self.batch_norm_epsilon,
                    momentum=self.batch_norm_momentum,
                    synchronized=self.synchronized_batch_norm,
                    name=f"bn{i + 1}",
                )
            )
        self.classifier = layers.Conv2D(1, 1, use_bias=True, name="classifier")

    def build(self, features_shape):
        if len(features_shape) != 4 or features_shape[-1] is None:
            raise ValueError(
                "SegmentationHead expects NHWC features with a known channel count; "
                f"got shape {tuple(features_shape)}."
            )
        shape = tuple(features_shape)
        for conv, norm in zip(self.convs, self.norms):
            conv.build(shape)
            shape = shape[:-1] + (self.filters,)
            norm.build(shape)
        self.classifier.build(shape)
        self.input_channels = int(features_shape[-1])

    def call(self, features, output_size=None, return_logits=False, training=None):
        x = features
        for conv, norm in zip(self.convs, self.norms):
            x = ops.relu(norm(conv(x), training=training))
        x = self.classifier(x)
        if output_size is not None:
            x = resize_bilinear(x, output_size)
        return x if return_logits else ops.sigmoid(x)

    def compute_output_shape(self, features_shape, output_size=None):
        if output_size is None:
            return tuple(features_shape[:-1]) + (1,)
        return (features_shape[0], None, None, 1)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            depth=self.depth,
            batch_norm_epsilon=self.batch_norm_epsilon,
            batch_norm_momentum=self.batch_norm_momentum,
            synchronized_batch_norm=self.synchronized_batch_norm,
        )
        return config
