"""Feature embeddings (DeepLabv3 backbones) for COSNet."""
from cosnet_tf.backbones.aspp import apply_aspp
from cosnet_tf.backbones.early_blocks import early_blocks
from cosnet_tf.backbones.mobilenetv2_deeplabv3_backbone import MobileNetV2DeepLabV3Backbone
from cosnet_tf.backbones.preprocessing import CAFFE_BGR_MEAN, ImagePreprocessing
from cosnet_tf.backbones.resnet_deeplabv3_backbone import ResNetDeepLabV3Backbone
from cosnet_tf.backbones.weights import load_weights_by_name, resolve_mobilenetv2_weights

__all__ = [
    "CAFFE_BGR_MEAN",
    "ImagePreprocessing",
    "MobileNetV2DeepLabV3Backbone",
    "ResNetDeepLabV3Backbone",
    "apply_aspp",
    "early_blocks",
    "load_weights_by_name",
    "resolve_mobilenetv2_weights",
]
