"""The class-balanced binary cross-entropy of Eq. 11."""
import keras
from keras import ops


def _summed_over_replicas(*values):
    """`values` summed over the replicas of a `tf.distribute` strategy (unchanged on one device).

    Eq. 11's eta is the foreground share of the batch. Under a strategy each
    replica sees part of the global batch; summing the counts over replicas
    gives every replica the share of the whole batch, so the loss weights are
    those of the same batch on one device.
    """
    if keras.backend.backend() != "tensorflow":
        return values
    import tensorflow as tf

    context = tf.distribute.get_replica_context()  # None in a cross-replica context
    if context is None or context.num_replicas_in_sync == 1:
        return values
    return tuple(context.all_reduce(tf.distribute.ReduceOp.SUM, list(values)))


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
        balance: how much of the class balance to apply, in [0, 1]: eta is
            replaced by `balance * eta + (1 - balance) / 2`. 1 (the default)
            is Eq. 11; 0 is plain binary cross-entropy (halved). Why lower
            it: Eq. 11 weighs every background pixel by the foreground share
            (about 0.05 for a DAVIS object), and salient objects that are
            not the primary one are background. Segmenting them costs about
            (1 - eta) / eta ~ 20 times less than missing the object, so the
            one thing co-attention adds -- telling the primary object from
            other salient ones -- barely moves the loss
            (docs/research-log.md#2026-11-26--eq-11s-class-balance-makes-distractors-nearly-free).

    Example:

    >>> import numpy as np
    >>> y_true = np.zeros((1, 4, 4, 1), "float32"); y_true[0, :2, :2] = 1
    >>> y_pred = np.full((1, 4, 4, 1), 0.5, "float32")
    >>> round(float(WeightedBinaryCrossentropy()(y_true, y_pred)), 4)
    0.2599
    """

    def __init__(self, from_logits=False, balance=1.0, name="weighted_binary_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        if not 0.0 <= balance <= 1.0:
            raise ValueError(f"`balance` must be in [0, 1], got {balance}.")
        self.from_logits = bool(from_logits)
        self.balance = float(balance)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        y_true = ops.cast(y_true > 0.5, y_pred.dtype)
        n_fg, n_all = _summed_over_replicas(ops.sum(y_true), ops.cast(ops.size(y_true), y_pred.dtype))
        eta = self.balance * (n_fg / n_all) + 0.5 * (1.0 - self.balance)
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
        config["balance"] = self.balance
        return config
