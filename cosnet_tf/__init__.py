"""cosnet-tf: COSNet (Lu et al., CVPR 2019) in Keras 3.

    import cosnet_tf
    model = cosnet_tf.load_model()                          # the shipped model
    masks = cosnet_tf.segment_video("clip.mp4", model)      # uint8 [T, H, W], 0/255

    from cosnet_tf import COSNet
    model = COSNet.from_preset("mobilenetv2", coattention="symmetric")  # to train your own
"""
from cosnet_tf.inference.segment_video import segment_video
from cosnet_tf.models import COSNet
from cosnet_tf.models.shipped import load_model

__version__ = "0.1.0"
__all__ = ["COSNet", "load_model", "segment_video", "__version__"]
