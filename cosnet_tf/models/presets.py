"""Named COSNet configurations composed from named parts (mmsegmentation style).

A preset is a backbone part plus model settings; `COSNet.from_preset(name, ...)`
builds it, and keyword arguments override any setting:

    COSNet.from_preset("mobilenetv2", coattention="symmetric",
                       backbone_config={"output_stride": 16},
                       backbone_weights="../shared/weights/mobilenet_v2_1.0_imagenet_no_top.h5")
"""
import copy
import os

import keras
import numpy as np

from cosnet_tf.backbones import (
    MobileNetV2DeepLabV3Backbone,
    ResNetDeepLabV3Backbone,
    load_weights_by_name,
    resolve_mobilenetv2_weights,
)

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
        description="The authors' released COSNet: ResNet-101 DeepLabv3, vanilla co-attention, "
        "bias-free gate, one 3x3 block per head. Loads their checkpoint "
        "(cosnet_tf.conversion.load_official_weights).",
        backbone="resnet101_deeplabv3",
        model=dict(coattention="vanilla", gate_bias=False, head_filters=256, head_depth=1),
    ),
    "resnet50": dict(
        description="ResNet-50 DeepLabv3 (ASPP 256 wide), two 3x3 blocks per head as in the paper.",
        backbone="resnet50_deeplabv3",
        model=dict(coattention="vanilla", gate_bias=True, head_filters=256, head_depth=2),
    ),
    "mobilenetv2": dict(
        description="MobileNetV2 DeepLabv3 at output stride 8: the preset trained on CPUs. "
        "Start it from ImageNet or the DeepLabv3 PASCAL weights (`backbone_weights=`).",
        backbone="mobilenetv2_deeplabv3",
        model=dict(coattention="vanilla", gate_bias=True, head_filters=256, head_depth=1),
    ),
}


def preset_config(name):
    """The (backbone class, backbone config, model config) of a preset, as copies."""
    if name not in PRESETS:
        raise ValueError(f"Unknown COSNet preset {name!r}; available: {sorted(PRESETS)}.")
    preset = PRESETS[name]
    backbone_cls, backbone_config = BACKBONES[preset["backbone"]]
    return backbone_cls, copy.deepcopy(backbone_config), copy.deepcopy(preset["model"])


def build_preset(preset, cls=None, backbone_config=None, backbone_weights=None, **model_overrides):
    """Builds `preset` (a name in `PRESETS`, or a path to a saved `.keras` model).

    Args:
        preset: a preset name or a `.keras` file.
        cls: the model class (COSNet or a subclass such as the trainer).
        backbone_config: overrides of the backbone part (e.g. output_stride).
        backbone_weights: None, "imagenet" (MobileNetV2 only: downloads the
            keras.applications file) or the path of a Keras `.h5` file whose
            layers are matched by name (a no-top MobileNetV2 or the DeepLabv3
            PASCAL file).
        **model_overrides: COSNet arguments (coattention, head_depth, ...).
    """
    if cls is None:
        from cosnet_tf.models.cosnet import COSNet as cls
    if isinstance(preset, (str, os.PathLike)) and str(preset).endswith(".keras"):
        if backbone_config or backbone_weights or model_overrides:
            raise ValueError("A saved .keras model takes no overrides; build a preset instead.")
        if not os.path.exists(preset):
            raise FileNotFoundError(f"Saved model not found: {preset}")
        return keras.saving.load_model(preset)
    backbone_cls, bb_config, model_config = preset_config(preset)
    bb_config.update(backbone_config or {})
    coattention_config = model_config.get("coattention_config", {})
    coattention_config.update(model_overrides.pop("coattention_config", None) or {})
    model_config.update(model_overrides)
    if coattention_config:
        model_config["coattention_config"] = coattention_config
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
    return cls(backbone, **model_config)


def preset_table(count=True):
    """A Markdown table of the presets, with parameter counts (builds each model)."""
    rows = ["| preset | backbone | co-attention | parameters (trainable) | description |", "|---|---|---|---|---|"]
    for name, preset in PRESETS.items():
        params = "-"
        if count:
            model = build_preset(name)
            trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
            params = f"{model.count_params():,} ({trainable:,})"
        rows.append(
            f"| `{name}` | {preset['backbone']} | {preset['model']['coattention']} | {params} | {preset['description']} |"
        )
    return "\n".join(rows)
