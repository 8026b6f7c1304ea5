"""COSNet models and presets."""
from cosnet_tf.models.cosnet import COSNet
from cosnet_tf.models.presets import BACKBONES, PRESETS, build_preset_backbone, preset_config

__all__ = ["BACKBONES", "COSNet", "PRESETS", "build_preset_backbone", "preset_config"]
