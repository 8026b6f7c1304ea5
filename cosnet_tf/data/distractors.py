"""Another video's object pasted into a training frame: one-frame distractors, and composite stills.

On DAVIS, every training object is salient in every frame, so the per-frame path can find
it alone and the co-attention has nothing to add (docs/coattention.md). An object cut from a
frame of *another* video and pasted into one frame of a pair is just as salient, but it is
labelled background and does not recur in the pair's other frame: only comparing the two
frames tells it from the primary object. This is the recurrence benchmark's one-frame
distractor (`cosnet_tf.data.RecurrenceVideoGenerator`), made from real objects. What it did
on DAVIS: docs/research-log.md#2026-11-27--one-frame-distractors-on-davis-the-gate-opens-j-falls.

`paste_object` is the per-frame operation, in TensorFlow ops for `tf.data`;
`make_frame_pair_dataset(paste_distractors=p)` pastes one into each frame with
probability p, each from a frame of another video drawn for that frame alone.
`cosnet_tf.data.composites` pastes one into every still, labelled as the object.
"""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

#: The pasted object's size: its bounding box is scaled so that it spans this share of the
#: frame along its tighter side (height or width), drawn uniformly per paste.
DEFAULT_DISTRACTOR_SCALE = (0.3, 0.7)

#: What the target mask says of a pasted object: "background" (a distractor: the frame's own
#: object stays the target, cleared where the paste covers it), "object" (the pasted object is
#: the whole target) or "union" (the pasted object and what shows of the frame's own).
PASTE_LABELS = ("background", "object", "union")


def check_paste_probability(probability: float) -> float:
    """Checks the probability that a frame gets a distractor; returns it as a float."""
    if not 0.0 <= float(probability) <= 1.0:
        raise ValueError(f"paste_distractors must be a probability in [0, 1], got {probability}")
    return float(probability)


def check_distractor_scale(scale: Sequence[float], name: str = "distractor_scale") -> tuple[float, float]:
    """Checks a `(low, high)` size range of pasted objects (errors name it `name`); returns it as floats."""
    try:
        low, high = (float(value) for value in scale)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (low, high), got {scale!r}") from None
    if not 0.0 < low <= high <= 1.0:
        raise ValueError(f"{name} must satisfy 0 < low <= high <= 1, got {scale!r}")
    return low, high


def paste_object(frame, mask, source_frame, source_mask, seed, scale=DEFAULT_DISTRACTOR_SCALE,
                 label="background"):
    """Pastes the object of `source_mask` (cut from `source_frame`) into `frame`.

    The object's bounding box is cut out, scaled by a random factor (see
    `DEFAULT_DISTRACTOR_SCALE`) and placed at a random position where it fits
    whole. Its pixels replace the frame's, blended by the scaled source mask;
    the pasted pixels are those where that mask is above one half, and they
    occlude the frame's own object. `label` (see `PASTE_LABELS`) sets the
    target there: background (a distractor), the whole target (`"object"`),
    or added to what shows of the frame's own object (`"union"`). A source
    mask with no object leaves the frame unchanged, and the mask too, except
    that with `"object"` (nothing pasted: no target) it is empty.

    Args:
        frame, source_frame: float32 `[H, W, 3]` and `[h, w, 3]`.
        mask, source_mask: float32 `[H, W, 1]` and `[h, w, 1]` in [0, 1].
        seed: int `[2]` stateless seed (scale and position).
        scale: `(low, high)` range of the pasted object's size.
        label: one of `PASTE_LABELS`.

    Returns:
        `(frame, mask)` of the input shapes.

    >>> import numpy as np
    >>> frame, mask = np.zeros((8, 8, 3), "float32"), np.ones((8, 8, 1), "float32")
    >>> source_frame = np.full((8, 8, 3), 200.0, "float32")
    >>> source_mask = np.zeros((8, 8, 1), "float32"); source_mask[2:6, 2:6] = 1
    >>> pasted, target = paste_object(frame, mask, source_frame, source_mask, [1, 2], scale=(0.5, 0.5))
    >>> int((pasted[..., 0] == 200).numpy().sum()), int(target.numpy().sum())  # a 4x4 object
    (16, 48)
    >>> _, target = paste_object(frame, mask, source_frame, source_mask, [1, 2], scale=(0.5, 0.5), label="object")
    >>> int(target.numpy().sum())
    16
    """
    if label not in PASTE_LABELS:
        raise ValueError(f"label must be one of {PASTE_LABELS}, got {label!r}")
    frame = tf.convert_to_tensor(frame, tf.float32)
    mask = tf.convert_to_tensor(mask, tf.float32)
    source_frame = tf.convert_to_tensor(source_frame, tf.float32)
    source_mask = tf.convert_to_tensor(source_mask, tf.float32)
    seed = tf.convert_to_tensor(seed)
    low, high = check_distractor_scale(scale)
    rows = tf.where(tf.reduce_any(source_mask[..., 0] > 0.5, axis=1))[:, 0]
    columns = tf.where(tf.reduce_any(source_mask[..., 0] > 0.5, axis=0))[:, 0]

    def pasted():
        height, width = tf.shape(frame)[0], tf.shape(frame)[1]
        top, bottom = rows[0], rows[-1] + 1
        left, right = columns[0], columns[-1] + 1
        object_pixels = source_frame[top:bottom, left:right]
        object_alpha = source_mask[top:bottom, left:right]
        scale_seed, row_seed, column_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=3))
        share = tf.random.stateless_uniform([], scale_seed, low, high) if high > low else tf.constant(low)
        box = tf.cast(tf.stack([bottom - top, right - left]), tf.float32)
        frame_size = tf.cast(tf.stack([height, width]), tf.float32)
        factor = share * tf.reduce_min(frame_size / box)  # the tighter side spans `share` of the frame
        size = tf.cast(tf.clip_by_value(tf.round(box * factor), 1.0, frame_size), tf.int32)
        object_pixels = tf.image.resize(object_pixels, size)
        object_alpha = tf.clip_by_value(tf.image.resize(object_alpha, size), 0.0, 1.0)
        row = tf.random.stateless_uniform([], row_seed, 0, height - size[0] + 1, dtype=tf.int32)
        column = tf.random.stateless_uniform([], column_seed, 0, width - size[1] + 1, dtype=tf.int32)
        canvas = tf.image.pad_to_bounding_box(object_pixels, row, column, height, width)
        alpha = tf.image.pad_to_bounding_box(object_alpha, row, column, height, width)
        covered = tf.cast(alpha > 0.5, mask.dtype)
        target = {"background": mask * (1.0 - covered), "object": covered,
                  "union": tf.maximum(mask * (1.0 - covered), covered)}[label]
        return frame * (1.0 - alpha) + canvas * alpha, target

    nothing = tf.zeros_like(mask) if label == "object" else mask
    return tf.cond(tf.size(rows) > 0, pasted, lambda: (frame, nothing))
