"""DeepLabv3 on a dilated MobileNetV2: the CPU-friendly COSNet feature embedding."""
import keras
from keras import layers

from cosnet_tf.backbones.aspp import apply_aspp
from cosnet_tf.backbones.preprocessing import ImagePreprocessing
from cosnet_tf.layers.pack_to_grid import PackToGrid

# (expansion, filters, stride) of blocks 0-16 of MobileNetV2 (Sandler et al.).
MOBILENETV2_BLOCKS = (
    (1, 16, 1),
    (6, 24, 2), (6, 24, 1),
    (6, 32, 2), (6, 32, 1), (6, 32, 1),
    (6, 64, 2), (6, 64, 1), (6, 64, 1), (6, 64, 1),
    (6, 96, 1), (6, 96, 1), (6, 96, 1),
    (6, 160, 2), (6, 160, 1), (6, 160, 1),
    (6, 320, 1),
)  # fmt: skip


def _make_divisible(value, divisor=8):
    """Channel rounding of keras.applications' MobileNetV2 (so its weights fit)."""
    new_value = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return new_value


# He init keeps an untrained backbone at unit scale (a depthwise output reads 9 inputs: its Keras fan_out).
CONV_INIT = "he_normal"
DEPTHWISE_INIT = keras.initializers.VarianceScaling(2.0, "fan_out", "truncated_normal")


def _bn(x, name):
    return layers.BatchNormalization(epsilon=1e-3, momentum=0.999, name=name)(x)


def _inverted_residual(x, expansion, filters, stride, dilation, prefix):
    in_channels = x.shape[-1]
    y = x
    if expansion != 1:
        y = layers.Conv2D(
            in_channels * expansion, 1, use_bias=False, kernel_initializer=CONV_INIT, name=f"{prefix}expand"
        )(y)
        y = layers.ReLU(6.0, name=f"{prefix}expand_relu")(_bn(y, f"{prefix}expand_BN"))
    # 'same' equals keras.applications' correct_pad + 'valid' at stride 2, and fits inputs of any size.
    y = layers.DepthwiseConv2D(
        3,
        strides=stride,
        padding="same",
        dilation_rate=dilation,
        use_bias=False,
        depthwise_initializer=DEPTHWISE_INIT,
        name=f"{prefix}depthwise",
    )(y)
    y = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(_bn(y, f"{prefix}depthwise_BN"))
    y = layers.Conv2D(filters, 1, use_bias=False, kernel_initializer=CONV_INIT, name=f"{prefix}project")(y)
    y = _bn(y, f"{prefix}project_BN")
    if stride == 1 and in_channels == filters:
        y = layers.Add(name=f"{prefix}add")([x, y])
    return y


@keras.saving.register_keras_serializable(package="cosnet_tf")
class MobileNetV2DeepLabV3Backbone(keras.Model):
    """DeepLabv3 feature embedding on MobileNetV2 with output stride 8 or 16.

    RGB frames in ([B, H, W, 3], values 0-255, any size), named outputs out (a
    dict): "embedding", V ([B, ceil(H/os), ceil(W/os), output_filters]), and
    with `low_level_block`, "low_level" (finer features packed onto the same
    grid, for COSNet's decoder). Layer names are those of
    `keras.applications.MobileNetV2` (`block_13_depthwise`, ...), so its
    ImageNet weights and the DeepLabv3 PASCAL weights load by name
    (`cosnet_tf.backbones.load_weights_by_name`). Following DeepLab, once the
    running stride reaches `output_stride` further strides become 1 and the
    later depthwise convolutions are dilated by the stride skipped. There is no
    `Conv_1` (1280 channels): ASPP reads `block_16_project_BN`. The head is
    DeepLab's MobileNetV2 ASPP (image pooling and a 1x1 branch, no atrous
    branches by default, 1x1 projection with ReLU).

    Args:
        alpha: width multiplier (1.0 and 0.35 have ImageNet weights here).
        output_stride: 8 or 16.
        aspp_filters, aspp_rates, aspp_image_pooling, output_filters: ASPP
            configuration (`apply_aspp`).
        mid_level_block: None (the default: DeepLabv3's embedding, the
            paper's), or the index i of a block on the output grid whose
            output (`block_{i}_add`) is concatenated to the ASPP output,
            so the embedding has `output_filters` + that block's channels
            (96 for block 12 at alpha 1.0). Why: the co-attention compares
            looks, and the ASPP output has lost most of them (see
            docs/research-log.md).
        low_level_block: None (the default), or the index i of a block at a
            finer stride than the output grid (block 2: stride 4) whose
            output, packed onto the output grid (`PackToGrid`, that block's
            channels times `low_level_factor` squared), is the "low_level"
            output, for the DeepLabv3+-style decoder in COSNet's heads. Why:
            outlines drawn at the finer stride are sharper (see
            docs/research-log.md).

    Example:

    >>> import numpy as np
    >>> backbone = MobileNetV2DeepLabV3Backbone(alpha=0.35, output_stride=16)
    >>> outputs = backbone(np.zeros((1, 97, 129, 3), "float32"))
    >>> tuple(outputs["embedding"].shape)
    (1, 7, 9, 256)
    >>> decoder = MobileNetV2DeepLabV3Backbone(alpha=0.35, output_stride=16, low_level_block=2)
    >>> {name: tuple(output.shape) for name, output in decoder(np.zeros((1, 64, 64, 3), "float32")).items()}
    {'embedding': (1, 4, 4, 256), 'low_level': (1, 4, 4, 128)}
    """

    def __init__(
        self,
        alpha=1.0,
        output_stride=8,
        aspp_filters=256,
        aspp_rates=(),
        aspp_image_pooling=True,
        output_filters=256,
        mid_level_block=None,
        low_level_block=None,
        **kwargs,
    ):
        if output_stride not in (8, 16, 32):
            raise ValueError(f"`output_stride` must be 8, 16 or 32, got {output_stride}.")
        if mid_level_block is not None and not 1 <= int(mid_level_block) < len(MOBILENETV2_BLOCKS):
            raise ValueError(
                f"`mid_level_block` must be a block index in [1, {len(MOBILENETV2_BLOCKS) - 1}], got {mid_level_block}."
            )
        if low_level_block is not None and not 0 <= int(low_level_block) < len(MOBILENETV2_BLOCKS):
            raise ValueError(
                f"`low_level_block` must be a block index in [0, {len(MOBILENETV2_BLOCKS) - 1}], got {low_level_block}."
            )
        images = keras.Input(shape=(None, None, 3), name="images")
        x = ImagePreprocessing("symmetric", name="preprocessing")(images)
        x = layers.Conv2D(
            _make_divisible(32 * alpha),
            3,
            strides=2,
            padding="same",
            use_bias=False,
            kernel_initializer=CONV_INIT,
            name="Conv1",
        
        )(x)
        x = layers.ReLU(6.0, name="Conv1_relu")(_bn(x, "bn_Conv1"))

        current_stride, dilation = 2, 1
        block_strides, block_prefixes, mid_level, low_level = [], [], None, None
        for index, (expansion, filters, stride) in enumerate(MOBILENETV2_BLOCKS):
            block_dilation = dilation
            if stride > 1 and current_stride >= output_stride:
                dilation *= stride  # applies from the next block on
                stride = 1
            current_stride *= stride
            prefix = "expanded_conv_" if index == 0 else f"block_{index}_"
            block_prefixes.append(prefix)
            x = _inverted_residual(
                x, expansion, _make_divisible(filters * alpha), stride, block_dilation, prefix
            )
            block_strides.append(current_stride)
            if mid_level_block is not None and index == int(mid_level_block):
                mid_level = x
            if low_level_block is not None and index == int(low_level_block):
                low_level = x
        if mid_level is not None and block_strides[int(mid_level_block)] != current_stride:
            on_grid = [i for i, s in enumerate(block_strides) if s == current_stride and i > 0]
            raise ValueError(
                f"`mid_level_block` {mid_level_block} runs at stride {block_strides[int(mid_level_block)]}, not "
                f"on the output grid (stride {current_stride}): pick one of blocks {on_grid[0]}-{on_grid[-1]}."
            )
        features = apply_aspp(
            x,
            filters=aspp_filters,
            rates=tuple(aspp_rates),
            image_pooling=aspp_image_pooling,
            output_filters=output_filters,
            projection_kernel_size=1,
            projection_bias=False,
            branch_bias=False,
            projection_activation="relu",
            batch_norm_epsilon=1e-5,
            batch_norm_momentum=0.9997,
        )
        if mid_level is not None:
            features = layers.Concatenate(name="mid_level_concat")([features, mid_level])
        outputs, low_level_factor = {"embedding": features}, 1
        if low_level is not None:
            low_stride = block_strides[int(low_level_block)]
            if low_stride >= current_stride:
                finer = [i for i, s in enumerate(block_strides) if s < current_stride]
                raise ValueError(
                    f"`low_level_block` {low_level_block} runs at stride {low_stride}, not finer than the output "
                    f"grid (stride {current_stride}): pick one of blocks {finer[0]}-{finer[-1]}."
                )
            low_level_factor = current_stride // low_stride
            outputs["low_level"] = PackToGrid(low_level_factor, name="low_level_pack")(low_level)
        super().__init__(inputs=images, outputs=outputs, **kwargs)
        # How many times finer than the embedding's grid the packed "low_level" output is drawn.
        self.low_level_factor = low_level_factor
        # Each block's layer-name prefix, in order (cosnet_tf.backbones.early_blocks).
        self.block_prefixes = block_prefixes
        self.alpha = alpha
        self.output_stride = output_stride
        self.aspp_filters = aspp_filters
        self.aspp_rates = tuple(aspp_rates)
        self.aspp_image_pooling = aspp_image_pooling
        self.output_filters = output_filters
        self.mid_level_block = None if mid_level_block is None else int(mid_level_block)
        self.low_level_block = None if low_level_block is None else int(low_level_block)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "alpha": self.alpha,
            "output_stride": self.output_stride,
            "aspp_filters": self.aspp_filters,
            "aspp_rates": list(self.aspp_rates),
            "aspp_image_pooling": self.aspp_image_pooling,
            "output_filters": self.output_filters,
            "mid_level_block": self.mid_level_block,
            "low_level_block": self.low_level_block,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
