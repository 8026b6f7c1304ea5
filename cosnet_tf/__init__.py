"""cosnet-tf: COSNet (Lu et al., CVPR 2019) in Keras 3.

    import cosnet_tf
    model = cosnet_tf.load_model()                          # the shipped model
    masks = cosnet_tf.segment_video("clip.mp4", model)      # uint8 [T, H, W], 0/255

    from cosnet_tf import COSNet
    model = COSNet.from_preset("mobilenetv2", coattention="symmetric")  # to train your own

Importing the package imports nothing else: TensorFlow loads with the first of these names
used (PEP 562), so `cosnet --help` and the light subpackages start in a fraction of a second.
"""
import importlib

#: The release; the one place it is written (the wheel's metadata reads it from here).
__version__ = "0.1.0"

# name -> the module that defines it, imported when the name is first used
_LAZY = {
    "COSNet": "cosnet_tf.models",
    "load_model": "cosnet_tf.models.loading",
    "segment_video": "cosnet_tf.inference.segment_video",
}

__all__ = ["COSNet", "load_model", "segment_video", "__version__"]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'cosnet_tf' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
