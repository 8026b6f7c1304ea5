"""The stem and first blocks of a backbone: the layers `frozen_backbone_blocks` keeps fixed."""


def early_blocks(backbone, count):
    """The layers of `backbone`'s stem and of its first `count` blocks, in order.

    A backbone names its blocks' layers with the prefixes it lists in
    `block_prefixes`, in network order (MobileNetV2: `expanded_conv_`,
    `block_1_`, ... `block_16_`; ResNet: `layer1_0_`, ... `layer4_2_`). The stem
    is every layer before the first block (convolution, batch norm, pooling);
    the ASPP and what follows it are never among them.

    Args:
        backbone: a backbone of `cosnet_tf.backbones`.
        count: how many blocks after the stem, 0 to `len(backbone.block_prefixes)`;
            0 gives the stem alone, or nothing for a backbone that lists no blocks.

    Example:

    >>> from cosnet_tf.backbones import MobileNetV2DeepLabV3Backbone
    >>> backbone = MobileNetV2DeepLabV3Backbone(alpha=0.35, output_stride=16)
    >>> [layer.name for layer in early_blocks(backbone, 1)][:3]
    ['Conv1', 'bn_Conv1', 'expanded_conv_depthwise']
    >>> early_blocks(backbone, 1)[-1].name
    'expanded_conv_project_BN'
    """
    prefixes = getattr(backbone, "block_prefixes", None)
    if prefixes is None and int(count) == 0:
        return []  # no blocks listed, so no stem told apart: any Keras backbone trains whole
    if prefixes is None:
        raise ValueError(
            f"{type(backbone).__name__} does not list its blocks (`block_prefixes`), so its early blocks "
            "cannot be frozen: use a backbone of cosnet_tf.backbones or freeze_backbone"
        )
    if not 0 <= int(count) <= len(prefixes):
        raise ValueError(f"frozen_backbone_blocks must be in [0, {len(prefixes)}] for this backbone, got {count}")
    chosen, stem = tuple(prefixes[: int(count)]), True
    layers = []
    for layer in backbone.layers:
        if layer.name.startswith(prefixes[0]):
            stem = False  # the trunk is a chain: every layer before the first block is the stem
        if not layer.weights:
            continue  # inputs, preprocessing, activations, adds: nothing to freeze
        if stem or layer.name.startswith(chosen):
            layers.append(layer)
    return layers
