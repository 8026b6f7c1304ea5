"""Training pipeline of still images with saliency masks.

Element specification (after batching, ``B = batch_size``, ``(H, W) =
image_size``)::

    (image: float32 [B, H, W, 3],   # RGB, 0..255, not normalised
     mask:  float32 [B, H, W, 1])   # 0 = background, 1 = object

Each epoch visits every image once, in a new random order; augmentation is
seeded as in :func:`~cosnet_tf.data.make_frame_pair_dataset`.

Example:
    >>> import tempfile
    >>> from cosnet_tf.data import (SaliencyDataset, SyntheticVideoGenerator,
    ...                             make_saliency_dataset)
    >>> image_dir, mask_dir = SyntheticVideoGenerator(image_size=(40, 40)).write_saliency(
    ...     tempfile.mkdtemp(), num_images=4)
    >>> batches = make_saliency_dataset(SaliencyDataset(image_dir, mask_dir),
    ...                                 image_size=(32, 32), batch_size=2, seed=0)
    >>> image, mask = next(iter(batches))
    >>> image.shape, mask.shape
    (TensorShape([2, 32, 32, 3]), TensorShape([2, 32, 32, 1]))
"""

from __future__ import annotations

from typing import Optional, Sequence

import tensorflow as tf

from cosnet_tf.data import _sampling
from cosnet_tf.data.augmentation import DEFAULT_AUGMENTATION, AugmentationConfig
from cosnet_tf.data.saliency import SaliencyDataset


def make_saliency_dataset(
    dataset: SaliencyDataset,
    image_size: Sequence[int] = (320, 320),
    batch_size: int = 4,
    *,
    augmentation: Optional[AugmentationConfig] = DEFAULT_AUGMENTATION,
    seed: Optional[int] = None,
    shuffle: bool = True,
    drop_remainder: bool = True,
    num_parallel_calls: Optional[int] = tf.data.AUTOTUNE,
    prefetch_buffer_size: Optional[int] = tf.data.AUTOTUNE,
) -> tf.data.Dataset:
    """Build the batched, prefetched ``tf.data`` pipeline of saliency images.

    Args:
        dataset: the image/mask pairs.
        image_size: output ``(height, width)``.
        batch_size: images per batch.
        augmentation: augmentation parameters, or ``None`` for a plain resize.
        seed: reproducibility seed (``None``: nondeterministic).
        shuffle: visit images in random order each epoch.
        drop_remainder: drop the last incomplete batch.
        num_parallel_calls: parallelism of decoding and augmentation.
        prefetch_buffer_size: batches to prefetch; ``None`` or 0 disables.

    Returns:
        A finite dataset of one epoch of ``(image, mask)`` batches.
    """
    image_size = _sampling.check_image_size(image_size)
    image_paths = tf.constant(dataset.image_paths)
    mask_paths = tf.constant(dataset.mask_paths)

    def load(index: tf.Tensor, element_seed: tf.Tensor):
        return _sampling.load_sample(image_paths[index], mask_paths[index], image_size, augmentation,
                                     element_seed)

    indices = _sampling.shuffled_indices_with_seeds(len(dataset), seed, shuffle)
    batches = indices.map(load, num_parallel_calls=num_parallel_calls, deterministic=True)
    return _sampling.finish(batches, batch_size, drop_remainder, prefetch_buffer_size)
