"""The segmentation module of COSNet (Section 3.3) and the saliency side output."""
import keras
import numpy as np
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

    With `decoder_filters` > 0 the head is DeepLabv3+'s decoder (Chen et al.,
    2018) on top: finer `low_level` features, packed onto the features' grid
    (`PackToGrid`, unpacked here by `low_level_factor`), are projected by a 1x1
    convolution to `low_level_filters` channels (batch norm, ReLU); the blocks'
    output is upsampled bilinearly to their grid and concatenated, and one
    3x3 convolution to `decoder_filters` channels (batch norm, ReLU) feeds the
    classifier, so the outline is drawn at the finer stride.

    Call arguments:
        features: NHWC features.
        low_level: the packed low-level features (the decoder's input; only
            with `decoder_filters` > 0).
        output_size: (height, width) to upsample to; `None` keeps the
            feature resolution.
        return_logits: return pre-sigmoid values instead of probabilities.

    Example:

    >>> import numpy as np
    >>> head = SegmentationHead(filters=16, depth=1)
    >>> x = np.random.rand(1, 6, 8, 32).astype("float32")
    >>> tuple(head(x, output_size=(45, 61)).shape)
    (1, 45, 61, 1)
    >>> decoder = SegmentationHead(filters=16, decoder_filters=8, low_level_filters=4, low_level_factor=2)
    >>> packed = np.random.rand(1, 6, 8, 4 * 24).astype("float32")  # 24 channels on a 12x16 grid
    >>> tuple(decoder(x, low_level=packed, output_size=(45, 61)).shape)
    (1, 45, 61, 1)
    """

    def __init__(
        self,
        filters=256,
        depth=1,
        batch_norm_epsilon=1e-5,
        batch_norm_momentum=0.9,
        synchronized_batch_norm=False,
        decoder_filters=0,
        low_level_filters=48,
        low_level_factor=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if depth < 0:
            raise ValueError(f"`depth` must be >= 0, got {depth}.")
        if decoder_filters < 0 or low_level_filters < 1 or low_level_factor < 1:
            raise ValueError(
                "`decoder_filters` must be >= 0, `low_level_filters` and `low_level_factor` >= 1; got "
                f"{decoder_filters}, {low_level_filters}, {low_level_factor}."
            )
        self.filters = int(filters)
        self.depth = int(depth)
        self.batch_norm_epsilon = float(batch_norm_epsilon)
        self.batch_norm_momentum = float(batch_norm_momentum)
        self.synchronized_batch_norm = bool(synchronized_batch_norm)
        self.decoder_filters = int(decoder_filters)
        self.low_level_filters = int(low_level_filters)
        self.low_level_factor = int(low_level_factor)
        self.convs, self.norms = [], []
        for i in range(self.depth):
            conv, norm = self._conv_bn(self.filters, 3, f"conv{i + 1}", f"bn{i + 1}")
            self.convs.append(conv)
            self.norms.append(norm)
        if self.decoder_filters:
            self.low_level_projection, self.low_level_norm = self._conv_bn(
                self.low_level_filters, 1, "low_level_conv", "low_level_bn"
            )
            self.decoder_conv, self.decoder_norm = self._conv_bn(self.decoder_filters, 3, "decoder_conv", "decoder_bn")
        self.classifier = layers.Conv2D(1, 1, use_bias=True, name="classifier")

    def _conv_bn(self, filters, kernel_size, conv_name, norm_name):
        """A bias-free convolution and the batch norm after it (ReLU follows in `call`)."""
        conv = layers.Conv2D(
            filters, kernel_size, padding="same", use_bias=False, kernel_initializer="he_normal", name=conv_name
        )
        norm = layers.BatchNormalization(
            epsilon=self.batch_norm_epsilon,
            momentum=self.batch_norm_momentum,
            synchronized=self.synchronized_batch_norm,
            name=norm_name,
        )
        return conv, norm

    @property
    def first_layer(self):
        """The layer that reads the head's input features: the first 3x3 convolution, or at
        depth 0 the decoder's convolution (its input: the features, then the low-level ones)
        or the classifier. Its kernel's first input channels are the features' channels."""
        if self.convs:
            return self.convs[0]
        return self.decoder_conv if self.decoder_filters else self.classifier

    def leading_input_mask(self, channels):
        """float32 array of `first_layer`'s kernel shape: 1 where the kernel reads the input's
        first `channels` channels (in COSNet, the summary Z of X = [Z, V], Eq. 10), 0 elsewhere."""
        mask = np.zeros(tuple(self.first_layer.kernel.shape), dtype="float32")
        mask[:, :, :channels, :] = 1.0
        return mask

    def build(self, features_shape, low_level_shape=None):
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
        if self.decoder_filters:
            if low_level_shape is None or low_level_shape[-1] is None:
                raise ValueError("A SegmentationHead with a decoder needs the packed low-level features' shape.")
            f = self.low_level_factor
            unpacked = (None, None, None, int(low_level_shape[-1]) // (f * f))
            self.low_level_projection.build(unpacked)
            self.low_level_norm.build(unpacked[:-1] + (self.low_level_filters,))
            self.decoder_conv.build(shape[:-1] + (shape[-1] + self.low_level_filters,))
            shape = shape[:-1] + (self.decoder_filters,)
            self.decoder_norm.build(shape)
        self.classifier.build(shape)
        self.input_channels = int(features_shape[-1])

    def call(self, features, low_level=None, output_size=None, return_logits=False, training=None):
        x = features
        for conv, norm in zip(self.convs, self.norms):
            x = ops.relu(norm(conv(x), training=training))
        if self.decoder_filters:
            if low_level is None:
                raise ValueError("This SegmentationHead has a decoder: pass the packed `low_level` features.")
            fine = ops.depth_to_space(low_level, self.low_level_factor)
            fine = ops.relu(self.low_level_norm(self.low_level_projection(fine), training=training))
            fine_shape = ops.shape(fine)
            x = resize_bilinear(x, (fine_shape[1], fine_shape[2]))
            x = ops.concatenate([x, ops.cast(fine, x.dtype)], axis=-1)
            x = ops.relu(self.decoder_norm(self.decoder_conv(x), training=training))
        x = self.classifier(x)
        if output_size is not None:
            x = resize_bilinear(x, output_size)
        return x if return_logits else ops.sigmoid(x)

    def compute_output_shape(self, features_shape, low_level_shape=None, output_size=None):
        if output_size is None and self.decoder_filters:
            f = self.low_level_factor
            scaled = [None if n is None else n * f for n in features_shape[1:3]]
            return (features_shape[0], *scaled, 1)
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
            decoder_filters=self.decoder_filters,
            low_level_filters=self.low_level_filters,
            low_level_factor=self.low_level_factor,
        )
        return config
