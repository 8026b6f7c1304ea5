"""`load_model`: the shipped model, or a saved one, in one call."""
from cosnet_tf.models.cosnet import COSNet
from cosnet_tf.models.shipped import SHIPPED_FILES, shipped_model_path


def load_model(path=None):
    """The shipped model (the default), or the saved `.keras` COSNet at `path`.

    `load_model(cosnet_tf.models.shipped.NO_COATTENTION_MODEL)` loads the shipped twin without
    co-attention; `COSNet.from_preset("cosnet_mobilenetv2_davis")` and
    `COSNet.from_preset("cosnet_mobilenetv2_davis_none")` load the same two files.

    Example:
        >>> import cosnet_tf
        >>> model = cosnet_tf.load_model()
        >>> model.coattention_variant, model.inference_short_side
        ('vanilla', 320)
    """
    if path is None or path in SHIPPED_FILES:
        path = shipped_model_path(path)
    return COSNet.from_preset(path)
