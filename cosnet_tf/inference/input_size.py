"""The size a frame is resized to before the model: fixed, or aspect-preserving.

A fixed square squashes a 854x480 DAVIS frame to, say, 256x256 (and a 16x16 feature map):
thin parts vanish and boundaries blur. The aspect-preserving rule scales the frame so its
short side is about ``short_side`` and rounds both sides to a multiple of ``stride`` (the
backbone's output stride, so the feature map tiles the frame exactly); each side moves by at
most ``stride / 2`` from the exact scaled size, so the aspect ratio is kept within a stride.

Example:
    >>> aspect_preserving_size((480, 854), short_side=384, stride=16)
    (384, 688)
    >>> aspect_preserving_size((1080, 1920), short_side=384, stride=16)
    (384, 688)
    >>> aspect_preserving_size((640, 480), short_side=240)
    (320, 240)
"""
import math

import tensorflow as tf

from cosnet_tf.utils.validation import positive_int


def aspect_preserving_size(frame_size, short_side, stride=16):
    """(height, width): ``frame_size`` scaled to a short side of about ``short_side``.

    Args:
        frame_size: the frame's (height, width).
        short_side: target length of the shorter side, in pixels.
        stride: both sides are rounded to the nearest multiple of it (at least one stride).

    Returns:
        A (height, width) tuple of ints, multiples of ``stride``.
    """
    height, width = (positive_int("frame_size", v) for v in frame_size)
    short_side = positive_int("short_side", short_side)
    stride = positive_int("stride", stride)
    scale = short_side / min(height, width)

    def round_to_stride(length):
        # floor(x + 0.5): round half up, the same in the exported graph (see `tf_aspect_preserving_size`).
        return max(stride, stride * int(math.floor(length * scale / stride + 0.5)))

    return round_to_stride(height), round_to_stride(width)


def tf_aspect_preserving_size(frame_size, short_side, stride=16):
    """`aspect_preserving_size` in TensorFlow ops, for sizes known only in the graph: int32 [2]."""
    size = tf.cast(frame_size, tf.float64)
    scale = float(short_side) / tf.reduce_min(size)
    sides = tf.floor(size * scale / float(stride) + 0.5) * float(stride)
    return tf.cast(tf.maximum(sides, float(stride)), tf.int32)


def tf_model_input_size(model, frame_size):
    """`resolve_input_size` with the model's own settings, in TensorFlow ops: int32 [2].

    For frame sizes known only in a graph (the exported SavedModel's signatures).
    """
    short_side = getattr(model, "inference_short_side", None)
    if short_side:
        return tf_aspect_preserving_size(frame_size, short_side, model_stride(model))
    model_size = getattr(model, "inference_size", None)
    if model_size is not None:
        return tf.constant([int(v) for v in model_size], tf.int32)
    return tf.cast(frame_size, tf.int32)


def model_stride(model):
    """The backbone's output stride (16 when the backbone does not say)."""
    return int(getattr(getattr(model, "backbone", None), "output_stride", 16) or 16)


def resolve_input_size(model, frame_size, input_size=None, short_side=None):
    """The (height, width) the model sees for a frame of ``frame_size``.

    In order of precedence: an explicit ``input_size``; an explicit ``short_side``; the
    model's own ``inference_short_side``; the model's ``inference_size`` (a fixed size,
    what older models were trained and shipped with); the frame's own size.
    """
    if input_size is not None:
        return tuple(int(v) for v in input_size)
    short_side = short_side or getattr(model, "inference_short_side", None)
    if short_side:
        return aspect_preserving_size(frame_size, short_side, model_stride(model))
    model_size = getattr(model, "inference_size", None)
    if model_size is not None:
        return tuple(int(v) for v in model_size)
    return tuple(int(v) for v in frame_size)
