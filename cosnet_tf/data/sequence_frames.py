"""Evaluation/inference pipeline: the frames of one video, in order.

Element specification (after batching, ``B <= batch_size``; the last batch
may be smaller)::

    {
      "frame":         float32 [B, H, W, 3],  # RGB 0..255, resized to image_size
      "frame_index":   int32   [B],           # position in the sequence
      "original_size": int32   [B, 2],        # (height, width) before resizing
      "mask":          float32 [B, h, w, 1],  # only with include_masks; 0/1 at
    }                                         # the original resolution

Masks stay at the original resolution because benchmark scores (J, F) are
computed there: predictions are resized back to ``original_size`` and compared
with ``mask``.  Batching needs equal frame sizes within the sequence, which
holds for DAVIS; use ``batch_size=1`` otherwise.

Example:
    >>> import tempfile
    >>> from cosnet_tf.data import (DavisDataset, SyntheticVideoGenerator,
    ...                             make_sequence_frame_dataset)
    >>> root = SyntheticVideoGenerator(num_sequences=1, num_frames=3,
    ...                                image_size=(40, 48)).write_davis(tempfile.mkdtemp())
    >>> frames = make_sequence_frame_dataset(DavisDataset(root)[0], image_size=(32, 32))
    >>> elements = list(frames)
    >>> [int(element["frame_index"][0]) for element in elements]
    [0, 1, 2]
    >>> elements[0]["frame"].shape, elements[0]["mask"].shape
    (TensorShape([1, 32, 32, 3]), TensorShape([1, 40, 48, 1]))
"""

from __future__ import annotations

from typing import Optional, Sequence

import tensorflow as tf

from cosnet_tf.data import _sampling
from cosnet_tf.data.augmentation import resize_frame_and_mask
from cosnet_tf.data.davis import VideoSequence
from cosnet_tf.data.decoding import tf_load_frame_and_mask, tf_load_rgb_image


def make_sequence_frame_dataset(
    sequence: VideoSequence,
    image_size: Optional[Sequence[int]] = None,
    batch_size: int = 1,
    *,
    include_masks: Optional[bool] = None,
    num_parallel_calls: Optional[int] = tf.data.AUTOTUNE,
    prefetch_buffer_size: Optional[int] = tf.data.AUTOTUNE,
) -> tf.data.Dataset:
    """Build the ordered frame pipeline of one sequence.

    Args:
        sequence: the video.
        image_size: ``(height, width)`` the frames are resized to (bilinear),
            or ``None`` to keep their size.
        batch_size: frames per batch (order is preserved).
        include_masks: add the ``"mask"`` entry; ``None`` means "if every
            frame has a mask".  ``True`` with missing masks is an error.
        num_parallel_calls: decoding parallelism (order is kept regardless).
        prefetch_buffer_size: batches to prefetch; ``None`` or 0 disables.

    Returns:
        A finite dataset; element spec in the module docstring.
    """
    if image_size is not None:
        image_size = _sampling.check_image_size(image_size)
    if include_masks is None:
        include_masks = sequence.has_all_masks
    elif include_masks and not sequence.has_all_masks:
        missing = next(frame for frame, mask in zip(sequence.frame_paths, sequence.mask_paths)
                       if mask is None)
        raise ValueError(
            f"include_masks=True but sequence {sequence.name!r} has frames without masks "
            f"(e.g. '{missing}')"
        )
    if len(sequence) == 0:
        raise ValueError(f"sequence {sequence.name!r} has no frames")

    frame_paths = tf.constant(sequence.frame_paths)
    mask_paths = tf.constant([path or "" for path in sequence.mask_paths])

    def load(index: tf.Tensor):
        if include_masks:
            frame, mask = tf_load_frame_and_mask(frame_paths[index], mask_paths[index])
        else:
            frame, mask = tf_load_rgb_image(frame_paths[index]), None
        original_size = tf.shape(frame)[:2]
        frame, _ = resize_frame_and_mask(frame, None, image_size)
        element = {
            "frame": frame,
            "frame_index": tf.cast(index, tf.int32),
            "original_size": tf.cast(original_size, tf.int32),
        }
        if include_masks:
            element["mask"] = tf.cast(mask, tf.float32)
        return element

    dataset = tf.data.Dataset.range(len(sequence)).map(
        load, num_parallel_calls=num_parallel_calls, deterministic=True)
    return _sampling.finish(dataset, batch_size, False, prefetch_buffer_size)
