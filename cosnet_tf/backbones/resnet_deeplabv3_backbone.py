"""DeepLabv3 on a dilated "Caffe" ResNet: the feature embedding of the authors' COSNet."""
import keras
from keras import layers

from cosnet_tf.backbones.aspp import apply_aspp
from cosnet_tf.backbones.preprocessing import ImagePreprocessing

# He initialisation keeps a ReLU network trained from scratch at unit scale.
INIT = "he_normal"
RESNET_BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def _bn(x, name, epsilon, momentum):
    return layers.BatchNormalization(epsilon=epsilon, momentum=momentum, name=name)(x)


def _bottleneck(x, planes, stride, dilation, project, name, eps, mom):
    """A "Caffe" bottleneck: the stride sits on the first 1x1 conv."""
    shortcut = x
    y = layers.Conv2D(planes, 1, strides=stride, use_bias=False, kernel_initializer=INIT, name=f"{name}_conv1")(x)
    y = layers.ReLU(name=f"{name}_relu1")(_bn(y, f"{name}_bn1", eps, mom))
    y = layers.Conv2D(
        planes,
        3,
        padding="same",
        dilation_rate=dilation,
        use_bias=False,
        kernel_initializer=INIT,
        name=f"{name}_conv2",
    )(y)
    y = layers.ReLU(name=f"{name}_relu2")(_bn(y, f"{name}_bn2", eps, mom))
    y = layers.Conv2D(planes * 4, 1, use_bias=False, kernel_initializer=INIT, name=f"{name}_conv3")(y)
    y = _bn(y, f"{name}_bn3", eps, mom)
    if project:
        shortcut = layers.Conv2D(
            planes * 4, 1, strides=stride, use_bias=False, kernel_initializer=INIT, name=f"{name}_downsample_0"
        )(x)
        shortcut = _bn(shortcut, f"{name}_downsample_1", eps, mom)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_out")(y)


@keras.saving.register_keras_serializable(package="cosnet_tf")
class ResNetDeepLabV3Backbone(keras.Model):
    """DeepLabv3 feature embedding on a dilated ResNet (the "Caffe" variant).

    RGB frames in ([B, H, W, 3], values 0-255, any size), one named output out
    (a dict): "embedding", V ([B, ceil(H/os), ceil(W/os), output_filters]). The structure follows the
    authors' `deeplab/siamese_model_conf.py` so their checkpoint maps onto it
    layer for layer: conv1 7x7/2 with padding 3, a 3x3/2 max-pool with padding
    1 and ceil mode, bottlenecks whose stride sits on the first 1x1 conv, a
    projection shortcut at the start of every stage, layer3 and layer4 dilated
    instead of strided (output stride 8: dilations 2 and 4; output stride 16:
    layer3 strided, layer4 dilation 2), then ASPP (`apply_aspp`). Layer names
    are the PyTorch module paths with "." replaced by "_" (`layer3_7_conv2`),
    except ASPP, named as in `apply_aspp`.

    Preprocessing lives in the model (`ImagePreprocessing`, BGR minus the Caffe
    mean by default), so callers pass RGB frames.

    Args:
        depth: 50, 101 or 152.
        output_stride: 8 or 16.
        aspp_filters, aspp_rates, aspp_image_pooling, output_filters: ASPP
            configuration (`apply_aspp`).
        batch_norm_epsilon, batch_norm_momentum: for every batch norm
            (PyTorch's 1e-5 and momentum 0.1, i.e. Keras' 0.9).
        preprocessing: `ImagePreprocessing` mode.

    Example:

    >>> import numpy as np
    >>> backbone = ResNetDeepLabV3Backbone(depth=50, aspp_filters=32, output_filters=16)
    >>> tuple(backbone(np.zeros((1, 65, 81, 3), "float32"))["embedding"].shape)
    (1, 9, 11, 16)
    """

    def __init__(
        self,
        depth=101,
        output_stride=8,
        aspp_filters=512,
        aspp_rates=(6, 12, 18),
        aspp_image_pooling=True,
        output_filters=256,
        batch_norm_epsilon=1e-5,
        batch_norm_momentum=0.9,
        preprocessing="caffe_bgr",
        **kwargs,
    ):
        if depth not in RESNET_BLOCKS:
            raise ValueError(f"ResNet depth must be one of {sorted(RESNET_BLOCKS)}, got {depth}.")
        if output_stride not in (8, 16):
            raise ValueError(f"`output_stride` must be 8 or 16, got {output_stride}.")
        eps, mom = batch_norm_epsilon, batch_norm_momentum

        images = keras.Input(shape=(None, None, 3), name="images")
        x = ImagePreprocessing(preprocessing, name="preprocessing")(images)
        x = layers.ZeroPadding2D(3, name="conv1_pad")(x)
        x = layers.Conv2D(64, 7, strides=2, use_bias=False, kernel_initializer=INIT, name="conv1")(x)
        x = layers.ReLU(name="relu")(_bn(x, "bn1", eps, mom))
        # PyTorch's ceil-mode pool: zeros pad like -inf after a ReLU, one extra row/column gives the ceil size.
        x = layers.ZeroPadding2D(((1, 2), (1, 2)), name="maxpool_pad")(x)
        x = layers.MaxPooling2D(3, strides=2, name="maxpool")(x)

        strides = (1, 2, 1, 1) if output_stride == 8 else (1, 2, 2, 1)
        dilations = (1, 1, 2, 4) if output_stride == 8 else (1, 1, 1, 2)
        block_prefixes = []
        for stage, (blocks, planes) in enumerate(zip(RESNET_BLOCKS[depth], (64, 128, 256, 512))):
            for block in range(blocks):
                name = f"layer{stage + 1}_{block}"
                block_prefixes.append(f"{name}_")  # its layers are named f"{name}_conv1", ...
                x = _bottleneck(
                    x,
                    planes,
                    stride=strides[stage] if block == 0 else 1,
                    dilation=dilations[stage],
                    project=block == 0,
                    name=name,
                    eps=eps,
                    mom=mom,
                )
        features = apply_aspp(
            x,
            filters=aspp_filters,
            rates=tuple(aspp_rates),
            image_pooling=aspp_image_pooling,
            output_filters=output_filters,
            projection_kernel_size=3,
            projection_bias=True,
            branch_bias=True,
            projection_activation="prelu",
            batch_norm_epsilon=eps,
            batch_norm_momentum=mom,
        )
        super().__init__(inputs=images, outputs={"embedding": features}, **kwargs)
        # Each bottleneck's layer-name prefix, in order (cosnet_tf.backbones.early_blocks).
        self.block_prefixes = block_prefixes
        self.depth = depth
        self.output_stride = output_stride
        self.aspp_filters = aspp_filters
        self.aspp_rates = tuple(aspp_rates)
        self.aspp_image_pooling = aspp_image_pooling
        self.output_filters = output_filters
        self.batch_norm_epsilon = batch_norm_epsilon
        self.batch_norm_momentum = batch_norm_momentum
        self.preprocessing = preprocessing

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "depth": self.depth,
            "output_stride": self.output_stride,
            "aspp_filters": self.aspp_filters,
            "aspp_rates": list(self.aspp_rates),
            "aspp_image_pooling": self.aspp_image_pooling,
            "output_filters": self.output_filters,
            "batch_norm_epsilon": self.batch_norm_epsilon,
            "batch_norm_momentum": self.batch_norm_momentum,
            "preprocessing": self.preprocessing,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
