"""Training COSNet: the alternating trainer, stream mixing, runs with checkpoints."""
from cosnet_tf.training.cosnet_trainer import IMAGE_STREAM, VIDEO_STREAM, COSNetTrainer, binary_iou
from cosnet_tf.training.partwise_adamw import PartwiseAdamW
from cosnet_tf.training.streams import mix_streams

__all__ = ["COSNetTrainer", "IMAGE_STREAM", "PartwiseAdamW", "VIDEO_STREAM", "binary_iou", "mix_streams"]
