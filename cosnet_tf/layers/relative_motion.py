"""How far each position of a frame moves against the background, read from a co-attention."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cosnet_tf")
class RelativeMotion(keras.layers.Layer):
    """Each query position's motion against the camera, from its best match in a near frame.

    Called on the co-attention's logits between a query and a frame a few steps
    away (`CoAttention.attention_logits`, [B, h*w, h*w], both frames of one
    size) and the grid's (h, w), it returns [B, h, w, 1]:

        d(i) = p(argmax_j logits(i, j)) - p(i)          (displacement, in cells)
        m(i) = | d(i) - median_i d(i) |                  (the median: the camera)
        out(i) = min(m(i) / min(h, w), max_fraction) / max_fraction

    i.e. the motion relative to the camera as a share of the grid's short
    side, clipped at `max_fraction` and scaled to [0, 1], so that it means the
    same at every input size. The arg max is a sharp match: the attention's
    weighted mean position is pulled towards the object's own centre and
    carries none of this (docs/coattention.md, stop 25). No gradient flows
    through it.

    Why: on DAVIS the objects the model wrongly segments (parked vehicles, a
    crowd, barriers) recur in every frame as much as the primary object, so
    the co-attention's summaries cannot reject them; two frames apart, they
    move with the camera and the object does not (stop 25: 0.34 against 2.44
    cells of relative motion, AUC 0.83).

    Args:
        max_fraction: the relative motion, as a share of the grid's short
            side, at which the output saturates at 1.

    Example:

    >>> import numpy as np
    >>> logits = np.zeros((1, 4, 4), "float32")
    >>> logits[0, [0, 1, 2, 3], [0, 1, 2, 1]] = 1.0   # position 3 matches position 1
    >>> out = RelativeMotion(max_fraction=0.5)(logits, grid=(2, 2))
    >>> np.round(out[0, :, :, 0], 2).tolist()
    [[0.0, 0.0], [0.0, 1.0]]
    """

    def __init__(self, max_fraction=0.25, **kwargs):
        super().__init__(**kwargs)
        if not max_fraction > 0:
            raise ValueError(f"`max_fraction` must be > 0, got {max_fraction}.")
        self.max_fraction = float(max_fraction)
        self.built = True

    def call(self, logits, grid):
        height, width = grid
        logits = ops.stop_gradient(logits)
        best = ops.argmax(logits, axis=-1)  # [B, h*w]
        positions = ops.arange(height * width)
        dy = ops.cast(best // width - positions // width, "float32")
        dx = ops.cast(best % width - positions % width, "float32")
        dy = dy - ops.median(dy, axis=-1, keepdims=True)
        dx = dx - ops.median(dx, axis=-1, keepdims=True)
        motion = ops.sqrt(dy * dy + dx * dx) / ops.cast(ops.minimum(height, width), "float32")
        motion = ops.minimum(motion, self.max_fraction) / self.max_fraction
        motion = ops.reshape(motion, (-1, height, width, 1))
        return ops.cast(motion, self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config["max_fraction"] = self.max_fraction
        return config
