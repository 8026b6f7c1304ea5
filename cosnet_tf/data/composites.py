"""Composite stills: an object of one training video pasted onto a frame of another.

The paper trains its still-image stream on 10k saliency images beside the video pairs
(Section 3.3). Where no saliency set is at hand, composites make new stills out of the
training videos' annotated frames: each one is a frame of one video (its background) with
the object of a frame of *another* video cut out with its mask, scaled (and, with the default
augmentation, flipped half the time) and pasted onto it at a random place. Pairings are drawn
anew every epoch, so the 30 DAVIS training videos give far more distinct stills than their
2,079 frames.

The still's mask is the pasted object (``label="object"``) or the pasted object together
with what still shows of the frame's own object (``label="union"``); see
`cosnet_tf.data.distractors.paste_object`, which does the cutting and pasting for these and
for the one-frame distractors of the video pairs. A source frame whose object the augmentation
cropped away pastes nothing: the still is its background frame, with an empty mask
(``"object"``) or the frame's own (``"union"``).

Element specification: that of `make_saliency_dataset`::

    (image: float32 [B, H, W, 3],   # RGB, 0..255, not normalised
     mask:  float32 [B, H, W, 1])   # 0 = background, 1 = object

Example:
    >>> import tempfile
    >>> from cosnet_tf.data import DavisDataset, SyntheticVideoGenerator, make_composite_dataset
    >>> root = SyntheticVideoGenerator(num_sequences=2, num_frames=3,
    ...                                image_size=(40, 48)).write_davis(tempfile.mkdtemp())
    >>> stills = make_composite_dataset(DavisDataset(root), image_size=(32, 32), batch_size=2, seed=0)
    >>> image, mask = next(iter(stills))
    >>> image.shape, mask.shape
    (TensorShape([2, 32, 32, 3]), TensorShape([2, 32, 32, 1]))
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence, Union

import tensorflow as tf

from cosnet_tf.data import _sampling
from cosnet_tf.data.augmentation import DEFAULT_AUGMENTATION, AugmentationConfig
from cosnet_tf.data.davis import DavisDataset, VideoSequence
from cosnet_tf.data.distractors import DEFAULT_DISTRACTOR_SCALE, PASTE_LABELS, check_distractor_scale, paste_object

#: The labels a composite's mask can take: the pasted object alone, or with the frame's own object.
COMPOSITE_LABELS = tuple(label for label in PASTE_LABELS if label != "background")


def make_composite_dataset(
    videos: Union[DavisDataset, Iterable[VideoSequence]],
    image_size: Sequence[int] = (320, 320),
    batch_size: int = 4,
    *,
    label: str = "object",
    scale: Sequence[float] = DEFAULT_DISTRACTOR_SCALE,
    augmentation: Optional[AugmentationConfig] = DEFAULT_AUGMENTATION,
    seed: Optional[int] = None,
    shuffle: bool = True,
    drop_remainder: bool = True,
    num_parallel_calls: Optional[int] = tf.data.AUTOTUNE,
    prefetch_buffer_size: Optional[int] = tf.data.AUTOTUNE,
) -> tf.data.Dataset:
    """Build the batched ``tf.data`` pipeline of composite stills from annotated videos.

    One epoch visits every frame once as a background (in shuffled order when
    `shuffle`), each with an object from a frame of another video drawn for it
    alone. Background and object are each augmented on their own (scale, crop,
    flip, colour) before the paste.

    Args:
        videos: two or more videos with a mask for every frame.
        image_size: output ``(height, width)``.
        batch_size: stills per batch.
        label: the mask of a composite, one of `COMPOSITE_LABELS`.
        scale: ``(low, high)`` share of the frame the pasted object spans along
            its tighter side (`paste_object`).
        augmentation: augmentation of both frames, or ``None`` for a plain resize.
        seed: reproducibility seed (``None``: nondeterministic).
        shuffle: visit the backgrounds in random order each epoch.
        drop_remainder: drop the last incomplete batch.
        num_parallel_calls: parallelism of decoding, augmentation and pasting.
        prefetch_buffer_size: batches to prefetch; ``None`` or 0 disables.

    Returns:
        A finite dataset of one epoch of ``(image, mask)`` batches.

    Raises:
        ValueError: fewer than two videos, a frame without a mask, or a bad
            `label`, `scale` or `image_size`.
    """
    image_size = _sampling.check_image_size(image_size)
    if label not in COMPOSITE_LABELS:
        raise ValueError(f"label must be one of {COMPOSITE_LABELS}, got {label!r}")
    scale = check_distractor_scale(scale, "scale")
    sequences = list(videos.sequences if isinstance(videos, DavisDataset) else videos)
    if len(sequences) < 2:
        raise ValueError(f"composites need two videos or more (an object comes from another video), "
                         f"got {len(sequences)}")
    frame_paths, mask_paths, video_starts, video_lengths = _sampling.frame_tables(sequences)
    num_frames = int(frame_paths.shape[0])

    def composite(index: tf.Tensor, element_seed: tf.Tensor):
        background_seed, pick_seed, object_seed, paste_seed = tf.unstack(
            tf.random.experimental.stateless_split(element_seed, num=4))
        frame, mask = _sampling.load_sample(frame_paths[index], mask_paths[index], image_size, augmentation,
                                            background_seed)
        source = _sampling.frame_of_another_video(pick_seed, video_starts[index], video_lengths[index], num_frames)
        object_frame, object_mask = _sampling.load_sample(frame_paths[source], mask_paths[source], image_size,
                                                          augmentation, object_seed)
        return paste_object(frame, mask, object_frame, object_mask, paste_seed, scale, label=label)

    indices = _sampling.shuffled_indices_with_seeds(num_frames, seed, shuffle)
    stills = indices.map(composite, num_parallel_calls=num_parallel_calls, deterministic=True)
    return _sampling.finish(stills, batch_size, drop_remainder, prefetch_buffer_size)
