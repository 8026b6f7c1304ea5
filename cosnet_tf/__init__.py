"""cosnet-tf: COSNet (Lu et al., CVPR 2019) in Keras 3.

    from cosnet_tf import COSNet
    model = COSNet.from_preset("mobilenetv2", coattention="symmetric")
"""
from cosnet_tf.models import COSNet

__version__ = "0.1.0"
__all__ = ["COSNet", "__version__"]
