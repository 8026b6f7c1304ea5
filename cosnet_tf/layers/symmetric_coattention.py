"""Symmetric co-attention (Eq. 4) with the orthogonality penalty of Eq. 12."""
import keras
from keras import ops

from cosnet_tf.layers.coattention import CoAttention, _flatten_positions
from cosnet_tf.layers.orthogonality import orthogonality_penalty


@keras.saving.register_keras_serializable(package="cosnet_tf")
class SymmetricCoAttention(CoAttention):
    """Symmetric co-attention: `S = (P V_b)^T D (P V_a)`, i.e. `W = P^T D P` (Eq. 4).

    P is a learned C x C projection meant to be orthogonal and D a learned
    diagonal. Orthogonality is encouraged, not imposed: every call adds
    `orthogonality_weight * ||P P^T - I||_F` (Eq. 12, lambda = 1e-4 in the
    paper) to the layer's losses with `add_loss`, so it reaches any training
    loss that includes `model.losses` (Keras' `fit` does).

    Args:
        orthogonality_weight: lambda of Eq. 12; 0 disables the penalty.
        projection_initializer: initializer of P; orthogonal by default so the
            penalty starts at zero.
        diagonal_initializer: initializer of the diagonal of D.

    Example:

    >>> import numpy as np
    >>> layer = SymmetricCoAttention(orthogonality_weight=1e-4)
    >>> v = np.random.rand(1, 4, 4, 8).astype("float32")
    >>> z_a, z_b = layer(v, v)
    >>> len(layer.losses)
    1
    """

    # Settings of this variant that `cosnet tune` may search over (a [space] axis), with their help.
    TUNABLE = {"orthogonality_weight": "lambda of Eq. 12, the weight of the projection's orthogonality penalty"}

    def __init__(
        self,
        orthogonality_weight=1e-4,
        projection_initializer="orthogonal",
        diagonal_initializer="ones",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if orthogonality_weight < 0:
            raise ValueError(
                f"`orthogonality_weight` must be >= 0, got {orthogonality_weight}."
            )
        self.orthogonality_weight = float(orthogonality_weight)
        self.projection_initializer = keras.initializers.get(projection_initializer)
        self.diagonal_initializer = keras.initializers.get(diagonal_initializer)

    def build_weights(self, channels):
        self.projection = self.add_weight(
            name="projection", shape=(channels, channels), initializer=self.projection_initializer
        )
        self.diagonal = self.add_weight(
            name="diagonal", shape=(channels,), initializer=self.diagonal_initializer
        )

    @property
    def weight_matrix(self):
        """The equivalent W = P^T D P of Eq. 1."""
        return ops.matmul(ops.transpose(self.projection) * self.diagonal, self.projection)

    def affinity(self, v_a, v_b):
        # A[i, j] = (P V_a(i))^T D (P V_b(j)): both frames projected by P, channels weighted by D.
        pa = ops.matmul(_flatten_positions(v_a), ops.transpose(self.projection))
        pb = ops.matmul(_flatten_positions(v_b), ops.transpose(self.projection))
        return ops.matmul(pa * self.diagonal, ops.transpose(pb, (0, 2, 1)))

    def _add_penalty(self):
        if self.orthogonality_weight > 0:
            # float32 under any policy: a bf16 loss cannot be added to the float32 training loss.
            projection = ops.cast(self.projection, "float32")
            self.add_loss(orthogonality_penalty(projection, self.orthogonality_weight))

    def call(self, v_a, v_b, joint=False, reference_mask=None):
        self._add_penalty()
        return super().call(v_a, v_b, joint=joint, reference_mask=reference_mask)

    def get_config(self):
        config = super().get_config()
        config.update(
            orthogonality_weight=self.orthogonality_weight,
            projection_initializer=keras.initializers.serialize(self.projection_initializer),
            diagonal_initializer=keras.initializers.serialize(self.diagonal_initializer),
        )
        return config
