"""Input normalisation inside the model, so that callers always pass RGB frames."""
import keras
from keras import ops

# The Caffe-era BGR channel means the authors subtract (deeplab/siamese_model_conf.py).
CAFFE_BGR_MEAN = (104.00699, 116.66877, 122.67892)


@keras.saving.register_keras_serializable(package="cosnet_tf")
class ImagePreprocessing(keras.layers.Layer):
    """Maps RGB frames with values in [0, 255] to what a backbone was trained on.

    Modes:
        "caffe_bgr": reverse the channels to BGR and subtract `CAFFE_BGR_MEAN`,
            no scaling (the authors' ResNet-101 COSNet).
        "symmetric": `x / 127.5 - 1` (MobileNetV2, keras.applications and
            DeepLab's TF models).

    Example:

    >>> import numpy as np
    >>> layer = ImagePreprocessing("symmetric")
    >>> float(layer(np.full((1, 2, 2, 3), 255.0, "float32")).numpy().max())
    1.0
    """

    MODES = ("caffe_bgr", "symmetric")

    def __init__(self, mode="caffe_bgr", **kwargs):
        super().__init__(**kwargs)
        if mode not in self.MODES:
            raise ValueError(f"Unknown preprocessing mode {mode!r}; expected one of {self.MODES}.")
        self.mode = mode

    def call(self, images):
        images = ops.cast(images, self.compute_dtype)
        if self.mode == "caffe_bgr":
            return ops.flip(images, axis=-1) - ops.convert_to_tensor(CAFFE_BGR_MEAN, self.compute_dtype)
        return images / 127.5 - 1.0

    def compute_output_shape(self, images_shape):
        return tuple(images_shape)

    def get_config(self):
        config = super().get_config()
        config["mode"] = self.mode
        return config
