"""Shared helpers of the training pipelines: seeded index and seed streams, sample loading."""

from __future__ import annotations

from typing import Optional

import tensorflow as tf

from cosnet_tf.data.augmentation import augment_frame_and_mask, resize_frame_and_mask
from cosnet_tf.data.decoding import tf_load_frame_and_mask

# Offsets that decorrelate the streams derived from one user seed.
_SHUFFLE_STREAM = 0
_ELEMENT_SEED_STREAM = 1


def shuffled_indices_with_seeds(
    num_items: int,
    seed: Optional[int],
    shuffle: bool,
) -> tf.data.Dataset:
    """One epoch of ``(index, element_seed)`` pairs.

    ``index`` runs over ``range(num_items)``, reshuffled at every new iteration
    (every epoch) when ``shuffle`` is set.  ``element_seed`` is an ``int64 [2]``
    tensor for stateless random ops, drawn from ``tf.data.Dataset.random`` with
    ``rerandomize_each_iteration=True``: fresh values every epoch, yet the
    whole sequence of epochs is reproduced by a new dataset built with the same
    ``seed``.  With ``seed=None`` both streams are seeded nondeterministically.
    """
    if num_items <= 0:
        raise ValueError(f"need at least one item, got {num_items}")
    indices = tf.data.Dataset.range(num_items)
    if shuffle:
        indices = indices.shuffle(
            num_items,
            seed=None if seed is None else seed + _SHUFFLE_STREAM,
            reshuffle_each_iteration=True,
        )
    random_values = tf.data.Dataset.random(
        seed=None if seed is None else seed + _ELEMENT_SEED_STREAM,
        rerandomize_each_iteration=True,
    )
    # Pair each random value with the element index: element seeds of one
    # epoch are then distinct even if two random values were to coincide.
    return tf.data.Dataset.zip(indices, random_values).map(
        lambda index, value: (index, tf.stack([value, index])),
        num_parallel_calls=None,
    )


def finish(dataset: tf.data.Dataset, batch_size: int, drop_remainder: bool,
           prefetch_buffer_size: Optional[int]) -> tf.data.Dataset:
    """Batch and prefetch."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if prefetch_buffer_size is not None and prefetch_buffer_size != 0:
        dataset = dataset.prefetch(prefetch_buffer_size)
    return dataset


def check_image_size(image_size) -> tuple[int, int]:
    """Validate an ``(height, width)`` pair."""
    try:
        height, width = (int(value) for value in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be (height, width), got {image_size!r}") from None
    if height <= 0 or width <= 0:
        raise ValueError(f"image_size must be positive, got {image_size!r}")
    return height, width


def load_sample(frame_path: tf.Tensor, mask_path: tf.Tensor, image_size, augmentation, seed: tf.Tensor,
                colour_seed: Optional[tf.Tensor] = None):
    """Decodes one frame (or still image) and its mask; augments them, or only resizes (``augmentation=None``)."""
    frame, mask = tf_load_frame_and_mask(frame_path, mask_path)
    if augmentation is None:
        return resize_frame_and_mask(frame, mask, image_size)
    return augment_frame_and_mask(frame, mask, image_size, augmentation, seed, colour_seed)


def frame_tables(sequences):
    """Flat per-frame lookup tables of `VideoSequence`s: frame and mask paths, each frame's video span.

    Returns:
        `(frame_paths, mask_paths, video_starts, video_lengths)`, one entry per frame.

    Raises:
        ValueError: a video has a frame without a mask, or there are no frames.
    """
    frame_paths, mask_paths, video_starts, video_lengths = [], [], [], []
    for sequence in sequences:
        if not sequence.has_all_masks:
            missing = [frame for frame, mask in zip(sequence.frame_paths, sequence.mask_paths)
                       if mask is None]
            raise ValueError(
                f"sequence {sequence.name!r} has frames without masks (e.g. '{missing[0]}'); "
                "training needs a mask for every frame"
            )
        start = len(frame_paths)
        frame_paths.extend(sequence.frame_paths)
        mask_paths.extend(sequence.mask_paths)
        video_starts.extend([start] * len(sequence))
        video_lengths.extend([len(sequence)] * len(sequence))
    if not frame_paths:
        raise ValueError("no annotated frames in the given videos")
    return (tf.constant(frame_paths), tf.constant(mask_paths),
            tf.constant(video_starts, tf.int64), tf.constant(video_lengths, tf.int64))


def frame_of_another_video(seed, start, length, num_frames):
    """A frame index drawn uniformly from the frames outside `[start, start + length)` (one video's span)."""
    pick = tf.random.stateless_uniform([], seed, minval=0, maxval=num_frames - length, dtype=tf.int64)
    return tf.where(pick < start, pick, pick + length)
