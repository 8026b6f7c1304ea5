"""Channel-wise co-attention (Eq. 5) with squeeze-and-excitation channel weights."""
import keras
from keras import ops

from cosnet_tf.layers.coattention import CoAttention, _flatten_positions


@keras.saving.register_keras_serializable(package="cosnet_tf")
class ChannelCoAttention(CoAttention):
    """Channel-wise co-attention: `S = (D_a V_b)^T (D_b V_a)` (Eq. 5).

    W of Eq. 1 becomes diagonal, split into two diagonals produced from the
    frames themselves by a squeeze-and-excitation block (Section 3.3): global
    average pooling of one frame, a fully connected layer with C nodes
    (512 in the paper, where C = 512) and a sigmoid give `D_a` from `V_a`,
    which then weights the channels of the *other* frame, `V_b`; likewise
    `D_b` from `V_b` weights `V_a`. The excitation weights are shared by both
    branches, as the Siamese network shares everything else.

    Args:
        hidden_units: `None` (the paper's single fully connected layer,
            C -> C) or an int for the usual two-layer SE bottleneck
            (C -> hidden_units -> ReLU -> C).

    Example:

    >>> import numpy as np
    >>> layer = ChannelCoAttention()
    >>> v_a = np.random.rand(2, 6, 6, 16).astype("float32")
    >>> z_a, z_b = layer(v_a, v_a[::-1])
    >>> tuple(layer.channel_weights(v_a).shape)
    (2, 16)
    """

    def __init__(self, hidden_units=None, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if hidden_units is not None and int(hidden_units) < 1:
            raise ValueError(f"`hidden_units` must be None or >= 1, got {hidden_units}.")
        self.hidden_units = None if hidden_units is None else int(hidden_units)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build_weights(self, channels):
        excite_in = channels
        if self.hidden_units is not None:
            self.squeeze_kernel = self.add_weight(
                name="squeeze_kernel",
                shape=(channels, self.hidden_units),
                initializer=self.kernel_initializer,
            )
            self.squeeze_bias = self.add_weight(
                name="squeeze_bias", shape=(self.hidden_units,), initializer="zeros"
            )
            excite_in = self.hidden_units
        self.excite_kernel = self.add_weight(
            name="excite_kernel", shape=(excite_in, channels), initializer=self.kernel_initializer
        )
        self.excite_bias = self.add_weight(
            name="excite_bias", shape=(channels,), initializer="zeros"
        )

    def channel_weights(self, features):
        """The diagonal D ([B, C], in (0, 1)) that `features` produce."""
        if not self.built:
            self.build(features.shape, features.shape)
        x = ops.mean(features, axis=(1, 2))
        if self.hidden_units is not None:
            x = ops.relu(ops.matmul(x, self.squeeze_kernel) + self.squeeze_bias)
        return ops.sigmoid(ops.matmul(x, self.excite_kernel) + self.excite_bias)

    def affinity(self, v_a, v_b):
        d_a = self.channel_weights(v_a)
        d_b = self.channel_weights(v_b)
        # A[i, j] = (D_b V_a(i))^T (D_a V_b(j)) = V_b(j)^T diag(d_a d_b) V_a(i).
        weighted_a = _flatten_positions(v_a) * ops.expand_dims(d_a * d_b, 1)
        return ops.matmul(weighted_a, ops.transpose(_flatten_positions(v_b), (0, 2, 1)))

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_units=self.hidden_units,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config
