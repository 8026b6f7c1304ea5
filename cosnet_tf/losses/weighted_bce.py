"""The class-balanced binary cross-entropy of Eq. 11."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cosnet_tf")
class WeightedBinaryCrossentropy(keras.losses.Loss):
    """Class-balanced binary cross-entropy (Eq. 11).

        L = -sum_x (1 - eta) o_x log y_x + eta (1 - o_x) log(1 - y_x)

    with eta the share of foreground pixels in the batch
    (n_fg / (n_fg + n_bg)), so the rarer class weighs more: foreground pixels
    by the background share and background pixels by the foreground share.
    This is the OSVOS class-balanced loss the authors train with. Per-pixel
    terms are averaged, so the value does not grow with the image size.

    Args:
        from_logits: `y_pred` holds logits rather than probabilities.

    Example:

    >>> import numpy as np
    >>> y_true = np.zeros((1, 4, 4, 1), "float32"); y_true[0, :2, :2] = 1
    >>> y_pred = np.full((1, 4, 4, 1), 0.5, "float32")
    >>> round(float(WeightedBinaryCrossentropy()(y_true, y_pred)), 4)
    0.2599
    """

    def __init__(self, from_logits=False, name="weighted_binary_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        y_true = ops.cast(y_true > 0.5, y_pred.dtype)
        n_fg = ops.sum(y_true)
        n_all = ops.cast(ops.size(y_true), y_pred.dtype)
        eta = n_fg / n_all
        if self.from_logits:
            log_p = ops.log_sigmoid(y_pred)
            log_not_p = ops.log_sigmoid(-y_pred)
        else:
            eps = keras.config.epsilon()
            y_pred = ops.clip(y_pred, eps, 1.0 - eps)
            log_p = ops.log(y_pred)
            log_not_p = ops.log(1.0 - y_pred)
        per_pixel = -((1.0 - eta) * y_true * log_p + eta * (1.0 - y_true) * log_not_p)
        axes = tuple(range(1, len(per_pixel.shape)))
        return ops.mean(per_pixel, axis=axes)

    def get_config(self):
        config = super().get_config()
        config["from_logits"] = self.from_logits
        return config
