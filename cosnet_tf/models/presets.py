"""Named COSNet models: trained presets (weights included) and untrained architectures.

Trained presets (`TRAINED_PRESETS`, keras-hub style) are the shipped models: the name loads
the trained network, weights and all, from the package data (or a checkout's saved_models/):

    COSNet.from_preset("cosnet_mobilenetv2_davis")       # the default model, with co-attention
    COSNet.from_preset("cosnet_mobilenetv2_davis_none")  # its twin without co-attention

Architecture presets (`PRESETS`, mmsegmentation style) are untrained networks to train: a
backbone part plus model settings. `build_preset_backbone` builds the backbone part;
`COSNet.from_preset(name, ...)` (or a subclass's, such as `COSNetTrainer.from_preset`)
composes the model, and keyword arguments override any setting:

    COSNet.from_preset("mobilenetv2", coattention="symmetric",
                       backbone_config={"output_stride": 16},
                       backbone_weights="../shared/weights/mobilenet_v2_1.0_imagenet_no_top.h5")
"""
import copy
import os

from cosnet_tf.backbones import (
    MobileNetV2DeepLabV3Backbone,
    ResNetDeepLabV3Backbone,
    load_weights_by_name,
    resolve_mobilenetv2_weights,
)
from cosnet_tf.models.shipped import shipped_model_path

BACKBONES = {
    # The authors' DeepLabv3 ResNet-101: output stride 8 (60x60 at 473x473),
    # ASPP 512 wide at rates 6/12/18 with image pooling, 256-d embedding.
    "resnet101_deeplabv3": (
        ResNetDeepLabV3Backbone,
        dict(depth=101, output_stride=8, aspp_filters=512, aspp_rates=(6, 12, 18), output_filters=256),
    ),
    "resnet50_deeplabv3": (
        ResNetDeepLabV3Backbone,
        dict(depth=50, output_stride=8, aspp_filters=256, aspp_rates=(6, 12, 18), output_filters=256),
    ),
    # DeepLab's MobileNetV2 head (PASCAL weights in ../shared/weights load by name).
    "mobilenetv2_deeplabv3": (
        MobileNetV2DeepLabV3Backbone,
        dict(alpha=1.0, output_stride=8, aspp_filters=256, aspp_rates=(), output_filters=256),
    ),
}

PRESETS = {
    "resnet101_official": dict(
        description="Untrained architecture: the authors' released COSNet, ResNet-101 DeepLabv3, vanilla "
        "co-attention, bias-free gate, one 3x3 block per head. Loads their checkpoint "
        "(cosnet_tf.conversion.load_official_weights) to make it theirs.",
        backbone="resnet101_deeplabv3",
        model=dict(coattention="vanilla", gate_bias=False, head_filters=256, head_depth=1),
    ),
    "resnet50": dict(
        description="Untrained architecture: ResNet-50 DeepLabv3 (ASPP 256 wide), two 3x3 blocks per head "
        "as in the paper.",
        backbone="resnet50_deeplabv3",
        model=dict(coattention="vanilla", gate_bias=True, head_filters=256, head_depth=2),
    ),
    "mobilenetv2": dict(
        description="Untrained architecture: MobileNetV2 DeepLabv3 at output stride 8, the one the trained "
        "presets start from. Start it from ImageNet or the DeepLabv3 PASCAL weights (`backbone_weights=`).",
        backbone="mobilenetv2_deeplabv3",
        model=dict(coattention="vanilla", gate_bias=True, head_filters=256, head_depth=1),
    ),
}


#: Trained presets: name -> the shipped `.keras` file (`file`, in saved_models/) and, in the shape of
#: `PRESETS` for tables, its backbone part and co-attention (the file holds the whole config).
TRAINED_PRESETS = {
    "cosnet_mobilenetv2_davis": dict(
        description="Trained on DAVIS-2016 train (the default model, weights included): MobileNetV2 DeepLabv3 "
        "with vanilla co-attention (centred-cosine affinity, recurrence gate); card: "
        "saved_models/cosnet_mobilenetv2_davis.md.",
        backbone="mobilenetv2_deeplabv3",
        model=dict(coattention="vanilla"),
        file="cosnet_mobilenetv2_davis.keras",
    ),
    "cosnet_mobilenetv2_davis_none": dict(
        description="Trained on DAVIS-2016 train (weights included): the default model's twin without "
        "co-attention (coattention=None, same recipe), segmenting frame by frame.",
        backbone="mobilenetv2_deeplabv3",
        model=dict(coattention=None),
        file="cosnet_mobilenetv2_davis_none.keras",
    ),
}


def trained_preset_path(name):
    """The shipped `.keras` file of the trained preset `name` (package data, else the checkout's).

    Raises:
        ValueError: `name` is not a trained preset.
        FileNotFoundError: the file is in neither place.
    """
    if name not in TRAINED_PRESETS:
        raise ValueError(f"Unknown trained COSNet preset {name!r}; available: {sorted(TRAINED_PRESETS)}.")
    return shipped_model_path(os.path.join("saved_models", TRAINED_PRESETS[name]["file"]))


def preset_config(name):
    """The (backbone class, backbone config, model config) of an architecture preset, as copies."""
    if name not in PRESETS:
        if name in TRAINED_PRESETS:
            raise ValueError(f"{name!r} is a trained preset: load it with COSNet.from_preset({name!r}) "
                             f"(no overrides), or build its architecture from an architecture preset "
                             f"({sorted(PRESETS)}).")
        raise ValueError(f"Unknown COSNet preset {name!r}; available: trained {sorted(TRAINED_PRESETS)}, "
                         f"architectures (untrained) {sorted(PRESETS)}.")
    preset = PRESETS[name]
    backbone_cls, backbone_config = BACKBONES[preset["backbone"]]
    return backbone_cls, copy.deepcopy(backbone_config), copy.deepcopy(preset["model"])


def build_preset_backbone(preset, backbone_config=None, backbone_weights=None):
    """(backbone, model settings) of `preset`: the part `COSNet.from_preset` composes a model from.

    Args:
        preset: a name in `PRESETS`.
        backbone_config: overrides of the backbone part (e.g. output_stride).
        backbone_weights: None, "imagenet" (MobileNetV2 only: downloads the
            keras.applications file), the path of a Keras `.h5` file whose
            layers are matched by name (a no-top MobileNetV2 or the DeepLabv3
            PASCAL file), or a Keras model whose layers are (a trained COSNet's
            backbone: `COSNet.from_preset` reads a saved `.keras` file into one).

    Returns:
        The built backbone and a copy of the preset's model settings.
    """
    backbone_cls, bb_config, model_config = preset_config(preset)
    bb_config.update(backbone_config or {})
    backbone = backbone_cls(name="backbone", **bb_config)
    if backbone_weights is not None:
        if backbone_cls is MobileNetV2DeepLabV3Backbone:
            path = resolve_mobilenetv2_weights(backbone_weights, bb_config.get("alpha", 1.0))
            # The ImageNet files have no ASPP; a DeepLab file fills it too.
            load_weights_by_name(backbone, path, allow_missing=("aspp_",))
        else:
            if backbone_weights == "imagenet":
                raise ValueError(
                    "ImageNet weights for the ResNet backbones are not provided; load the "
                    "authors' checkpoint with cosnet_tf.conversion.load_official_weights."
                )
            load_weights_by_name(backbone, backbone_weights)
    return backbone, model_config
