"""Training COSNet: the alternating trainer, stream mixing, runs with checkpoints.

The names below are imported on first use (PEP 562): `cosnet train`'s flags are made from
`cosnet_tf.training.run_config`, which must load without TensorFlow.
"""
import importlib

_EXPORTS = {
    "COSNetTrainer": "cosnet_trainer",
    "IMAGE_STREAM": "cosnet_trainer",
    "VIDEO_STREAM": "cosnet_trainer",
    "binary_iou": "cosnet_trainer",
    "PartwiseAdamW": "partwise_adamw",
    "mix_streams": "streams",
}


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cosnet_tf.training' has no attribute {name!r}")
    return getattr(importlib.import_module(f"cosnet_tf.training.{_EXPORTS[name]}"), name)


__all__ = ["COSNetTrainer", "IMAGE_STREAM", "PartwiseAdamW", "VIDEO_STREAM", "binary_iou", "mix_streams"]
