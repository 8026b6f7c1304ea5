"""The self-gate of gated co-attention (Eq. 8-9)."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cosnet_tf")
class CoAttentionGate(keras.layers.Layer):
    """Weights an attention summary by its own confidence: `Z * sigmoid(w_f Z + b_f)`.

    Eq. 8 computes one confidence per position with a 1x1 convolution to a
    single channel and a sigmoid; Eq. 9 multiplies every channel of the summary
    by it. One instance is shared by both Siamese branches (and by every
    reference frame at test time), as in the paper.

    Args:
        use_bias: the paper's `b_f`. The authors' released model has none
            (`gate.weight` only), which the `resnet101_official` preset mirrors.

    Call arguments:
        summary: NHWC attention summary Z.
        return_confidence: also return the [B, H, W, 1] confidence f_g(Z).

    Example:

    >>> import numpy as np
    >>> gate = CoAttentionGate()
    >>> z = np.random.rand(2, 5, 5, 8).astype("float32")
    >>> tuple(gate(z).shape)
    (2, 5, 5, 8)
    """

    def __init__(self, use_bias=True, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, summary_shape):
        if len(summary_shape) != 4 or summary_shape[-1] is None:
            raise ValueError(
                "CoAttentionGate expects NHWC summaries with a known channel count; "
                f"got shape {tuple(summary_shape)}."
            )
        channels = int(summary_shape[-1])
        self.kernel = self.add_weight(
            name="kernel", shape=(channels, 1), initializer=self.kernel_initializer
        )
        self.bias = (
            self.add_weight(name="bias", shape=(1,), initializer="zeros") if self.use_bias else None
        )

    def confidence(self, summary):
        """f_g(Z) of Eq. 8: [B, H, W, 1] in (0, 1)."""
        logits = ops.matmul(summary, self.kernel)
        if self.bias is not None:
            logits = logits + self.bias
        return ops.sigmoid(logits)

    def call(self, summary, return_confidence=False):
        if summary.shape[-1] != self.kernel.shape[0]:
            raise ValueError(
                f"CoAttentionGate was built for {self.kernel.shape[0]} channels but "
                f"got a summary with {summary.shape[-1]}."
            )
        confidence = self.confidence(summary)
        gated = summary * confidence
        return (gated, confidence) if return_confidence else gated

    def compute_output_shape(self, summary_shape):
        return tuple(summary_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config
