"""Vanilla co-attention (Eq. 1-3)."""
import keras
from keras import ops

from cosnet_tf.layers.coattention import CoAttention, _flatten_positions


@keras.saving.register_keras_serializable(package="cosnet_tf")
class VanillaCoAttention(CoAttention):
    """Vanilla co-attention: `S = V_b^T W V_a` with a learned C x C matrix W (Eq. 1).

    Eq. 2-3 only rewrite W as `P^{-1} D P`; the layer learns W directly, as the
    authors' `linear_e` does, so its `kernel` is exactly their
    `linear_e.weight` (a bias-free linear map applied to the features of a).

    Args:
        kernel_initializer: initializer of W. The default, the identity, starts
            the affinity as plain feature correlation (Eq. 2-3 with P = D = I),
            the same start as the symmetric variant's orthogonal P and unit D.
            A random W (the authors' PyTorch default for `nn.Linear`, of
            Glorot scale) starts it as a random bilinear form: the softmax
            then picks arbitrary positions and, with raw features, is too
            saturated for W to learn (see docs/research-log.md).
        **kwargs: `CoAttention` arguments (`cosine`, `initial_temperature`, `no_match`,
            `recurrence_gate`, ...).

    Example:

    >>> import numpy as np
    >>> layer = VanillaCoAttention()
    >>> v_a = np.random.rand(2, 6, 8, 16).astype("float32")
    >>> v_b = np.random.rand(2, 5, 7, 16).astype("float32")
    >>> z_a, z_b = layer(v_a, v_b)
    >>> tuple(z_a.shape), tuple(z_b.shape)
    ((2, 6, 8, 16), (2, 5, 7, 16))
    """

    def __init__(self, kernel_initializer="identity", **kwargs):
        super().__init__(**kwargs)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build_weights(self, channels):
        self.kernel = self.add_weight(
            name="kernel",
            shape=(channels, channels),
            initializer=self.kernel_initializer,
        )

    def affinity(self, v_a, v_b):
        # A[i, j] = V_b(j)^T W V_a(i): transform a once, then one batched HW x HW product.
        a = ops.matmul(_flatten_positions(v_a), ops.transpose(self.kernel))
        return ops.matmul(a, ops.transpose(_flatten_positions(v_b), (0, 2, 1)))

    def get_config(self):
        config = super().get_config()
        config["kernel_initializer"] = keras.initializers.serialize(self.kernel_initializer)
        return config
