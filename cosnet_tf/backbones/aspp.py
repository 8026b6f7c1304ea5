"""Atrous spatial pyramid pooling (DeepLabv3), built into a functional backbone."""
from keras import layers

from cosnet_tf.layers.resize import ResizeLike


def _conv_bn_relu(x, filters, kernel_size, dilation, use_bias, name, epsilon, momentum):
    x = layers.Conv2D(
        filters,
        kernel_size,
        padding="same",
        dilation_rate=dilation,
        use_bias=use_bias,
        kernel_initializer="he_normal",
        name=f"{name}_conv",
    )(x)
    x = layers.BatchNormalization(epsilon=epsilon, momentum=momentum, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def apply_aspp(
    x,
    filters=512,
    rates=(6, 12, 18),
    image_pooling=True,
    output_filters=256,
    projection_kernel_size=3,
    projection_bias=True,
    branch_bias=True,
    projection_activation="prelu",
    batch_norm_epsilon=1e-5,
    batch_norm_momentum=0.9,
):
    """Applies ASPP to the feature map `x` and returns the embedding V.

    Branches, concatenated in this order: image pooling (global mean, 1x1 conv,
    BN, ReLU, broadcast back), a 1x1 branch, and one 3x3 branch per atrous
    rate; then a projection (`projection_kernel_size` conv, BN and
    PReLU or ReLU) to `output_filters` channels.

    The authors' ResNet-101 uses filters=512, rates (6, 12, 18), a 3x3
    projection with bias and a single-parameter PReLU. DeepLab's MobileNetV2
    head (the PASCAL weights in `../shared/weights`) uses filters=256, no
    atrous branches, bias-free 1x1 branches and a 1x1 ReLU projection. Layer
    names (`aspp_pool_conv`, `aspp_1x1_conv`, `aspp_atrous{i}_conv`,
    `aspp_concat_projection_conv`, ...) follow the DeepLab PASCAL weights
    so those load by name.
    """
    eps, mom = batch_norm_epsilon, batch_norm_momentum
    branches = []
    if image_pooling:
        pooled = layers.GlobalAveragePooling2D(keepdims=True, name="aspp_pool")(x)
        pooled = _conv_bn_relu(pooled, filters, 1, 1, branch_bias, "aspp_pool", eps, mom)
        # Bilinear upsampling of a 1x1 map is a broadcast.
        branches.append(ResizeLike(name="aspp_pool_upsample")(pooled, x))
    branches.append(_conv_bn_relu(x, filters, 1, 1, branch_bias, "aspp_1x1", eps, mom))
    for i, rate in enumerate(rates, start=1):
        branches.append(_conv_bn_relu(x, filters, 3, rate, branch_bias, f"aspp_atrous{i}", eps, mom))
    x = layers.Concatenate(name="aspp_concat")(branches) if len(branches) > 1 else branches[0]
    x = layers.Conv2D(
        output_filters,
        projection_kernel_size,
        padding="same",
        use_bias=projection_bias,
        kernel_initializer="he_normal",
        name="aspp_concat_projection_conv",
    )(x)
    x = layers.BatchNormalization(epsilon=eps, momentum=mom, name="aspp_concat_projection_bn")(x)
    if projection_activation == "prelu":
        # One parameter shared by all channels and positions, like nn.PReLU().
        return layers.PReLU(shared_axes=[1, 2, 3], name="aspp_concat_projection_prelu")(x)
    if projection_activation == "relu":
        return layers.ReLU(name="aspp_concat_projection_relu")(x)
    raise ValueError(
        f"Unknown projection_activation {projection_activation!r}; expected 'prelu' or 'relu'."
    )
