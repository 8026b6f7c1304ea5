"""Training pipeline of random frame pairs from the same video.

COSNet learns from two frames of one video: the co-attention module finds the
object as what the frames have in common.  One epoch visits every annotated
frame once as ``frame_a`` (in shuffled order) and pairs it with ``frame_b``
drawn uniformly from the *other* frames of the same video -- any frame, not
only a neighbour, so the network sees large appearance changes.  Both the
order and the partners are drawn anew at every epoch.

Element specification (after batching, ``B = batch_size``, ``(H, W) =
image_size``)::

    (
        {"frame_a": float32 [B, H, W, 3],   # RGB, 0..255, not normalised
         "frame_b": float32 [B, H, W, 3]},
        {"mask_a":  float32 [B, H, W, 1],   # 0 = background, 1 = object
         "mask_b":  float32 [B, H, W, 1]},
    )

which is the ``(inputs, targets)`` form that ``keras.Model.fit`` accepts for a
model with inputs named ``frame_a``/``frame_b`` and outputs named
``mask_a``/``mask_b``.  The model is responsible for mean/std normalisation.

With ``references=K`` (K > 1), ``frame_b`` and ``mask_b`` hold K partners of
``frame_a``, distinct frames of its video: ``[B, K, H, W, 3]`` and ``[B, K, H, W, 1]``.
`COSNetTrainer` then segments each frame of such a group with the mean of its
gated summaries over the others (Eq. 13 at training time, as `segment` tests).

Each frame of a pair receives its own random geometry (scale, crop, flip; see
:mod:`cosnet_tf.data.augmentation`); frame and mask of one frame share it. The colour
jitter is drawn once per pair and applied to both frames (``shared_pair_colour``, the
default): it still differs from pair to pair, but an object keeps its look between the two
frames. Jitter drawn per frame changes the primary object's colour between the frames of a
pair, which is the very cue co-attention learns to match
(docs/research-log.md#2026-11-26--one-colour-jitter-per-frame-pair).

Example:
    >>> import tempfile
    >>> from cosnet_tf.data import (DavisDataset, SyntheticVideoGenerator,
    ...                             make_frame_pair_dataset)
    >>> root = SyntheticVideoGenerator(num_sequences=2, num_frames=3,
    ...                                image_size=(40, 48)).write_davis(tempfile.mkdtemp())
    >>> pairs = make_frame_pair_dataset(DavisDataset(root), image_size=(32, 32),
    ...                                 batch_size=2, seed=7)
    >>> frames, masks = next(iter(pairs))
    >>> sorted(frames), frames["frame_a"].shape, masks["mask_b"].shape
    (['frame_a', 'frame_b'], TensorShape([2, 32, 32, 3]), TensorShape([2, 32, 32, 1]))
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence, Union

import tensorflow as tf

from cosnet_tf.data import _sampling
from cosnet_tf.data.augmentation import DEFAULT_AUGMENTATION, AugmentationConfig
from cosnet_tf.data.davis import DavisDataset, VideoSequence
from cosnet_tf.data.distractors import (
    DEFAULT_DISTRACTOR_SCALE,
    check_distractor_scale,
    check_paste_probability,
    paste_object,
)

def make_frame_pair_dataset(
    videos: Union[DavisDataset, Iterable[VideoSequence]],
    image_size: Sequence[int] = (320, 320),
    batch_size: int = 4,
    *,
    augmentation: Optional[AugmentationConfig] = DEFAULT_AUGMENTATION,
    seed: Optional[int] = None,
    shuffle: bool = True,
    drop_remainder: bool = True,
    num_parallel_calls: Optional[int] = tf.data.AUTOTUNE,
    prefetch_buffer_size: Optional[int] = tf.data.AUTOTUNE,
    shared_pair_colour: bool = True,
    paste_distractors: float = 0.0,
    distractor_scale: Sequence[float] = DEFAULT_DISTRACTOR_SCALE,
    references: int = 1,
) -> tf.data.Dataset:
    """Build the batched, prefetched ``tf.data`` pipeline of frame pairs.

    Args:
        videos: a :class:`DavisDataset` or any iterable of
            :class:`VideoSequence`; every frame needs a mask.
        image_size: output ``(height, width)``.
        batch_size: pairs per batch.
        augmentation: augmentation parameters, or ``None`` for a plain resize.
        seed: makes the pipeline reproducible: a dataset built again with the
            same seed yields the same pairs and augmentations, epoch after
            epoch (each epoch differing from the previous one).  ``None``
            draws nondeterministic seeds.
        shuffle: visit ``frame_a`` in random order (the partner ``frame_b``
            is random either way).
        drop_remainder: drop the last incomplete batch, which keeps the batch
            dimension static.
        num_parallel_calls: parallelism of decoding and augmentation.
        prefetch_buffer_size: batches to prefetch; ``None`` or 0 disables.
        shared_pair_colour: one colour jitter for both frames of a pair
            (True) or one per frame (False).
        paste_distractors: probability that a frame gets a one-frame
            distractor: the object of a random frame of *another* video,
            pasted as background (`cosnet_tf.data.distractors`). Drawn for
            each frame of a pair on its own, so a distractor does not recur
            in the pair. 0 (the default) pastes nothing and leaves the pairs
            as drawn; above 0 it needs two videos or more.
        distractor_scale: `(low, high)` size range of a pasted object
            (`DEFAULT_DISTRACTOR_SCALE`).
        references: partners of each ``frame_a``. 1 (the default) gives the
            paper's pairs; K > 1
            gives ``frame_b`` / ``mask_b`` a K axis of distinct frames of the
            same video (repeating only in a video of K frames or fewer), with
            one colour jitter for the whole group.

    Returns:
        A finite dataset of one epoch (``num_frames // batch_size`` batches
        with ``drop_remainder``); iterate it again (or ``.repeat()``) for more
        epochs.  Element spec: see the module docstring.

    A video with a single frame yields pairs of that frame with itself;
    otherwise the two frames of a pair are always distinct.
    """
    image_size = _sampling.check_image_size(image_size)
    if isinstance(references, bool) or not isinstance(references, int) or references < 1:
        raise ValueError(f"references must be an integer >= 1, got {references!r}")
    sequences = list(videos.sequences if isinstance(videos, DavisDataset) else videos)
    frame_paths, mask_paths, video_starts, video_lengths = _sampling.frame_tables(sequences)
    num_frames = int(frame_paths.shape[0])
    paste_distractors = check_paste_probability(paste_distractors)
    distractor_scale = check_distractor_scale(distractor_scale)
    if paste_distractors > 0 and len(sequences) < 2:
        raise ValueError("paste_distractors needs two videos or more: a distractor comes from another video")

    def with_distractor(frame, mask, start, length, distractor_seed):
        """`paste_object` with probability `paste_distractors`, from a frame of another video."""
        draw_seed, pick_seed, load_seed, paste_seed = tf.unstack(
            tf.random.experimental.stateless_split(distractor_seed, num=4))
        source = _sampling.frame_of_another_video(pick_seed, start, length, num_frames)

        def pasted():
            source_frame, source_mask = _sampling.load_sample(
                frame_paths[source], mask_paths[source], image_size, augmentation, load_seed)
            return paste_object(frame, mask, source_frame, source_mask, paste_seed, distractor_scale)

        draw = tf.random.stateless_uniform([], draw_seed)
        return tf.cond(draw < paste_distractors, pasted, lambda: (frame, mask))

    def load_frame(index, frame_seed, colour_seed, start, length):
        frame, mask = _sampling.load_sample(
            frame_paths[index], mask_paths[index], image_size, augmentation, frame_seed, colour_seed)
        if paste_distractors > 0:
            # Seeds of their own (folded in), so the pairs and augmentations stay those drawn without.
            distractor_seed = tf.random.experimental.stateless_fold_in(frame_seed, 1)
            frame, mask = with_distractor(frame, mask, start, length, distractor_seed)
        return frame, mask

    def load_pair(index_a: tf.Tensor, element_seed: tf.Tensor):
        partner_seed, seed_a, seed_b, pair_colour_seed = tf.unstack(
            tf.random.experimental.stateless_split(element_seed, num=4))
        colour_seed = pair_colour_seed if shared_pair_colour else None
        start = video_starts[index_a]
        length = video_lengths[index_a]
        others = tf.maximum(length - 1, 1)
        if references == 1:
            # Uniform over the other length-1 frames: step 1..length-1 ahead,
            # wrapping around the video.
            steps = 1 + tf.random.stateless_uniform([1], partner_seed, minval=0, maxval=others, dtype=tf.int64)
        else:
            # K distinct steps (a random order of 1..length-1, cycled when the video is short).
            order = tf.argsort(tf.random.stateless_uniform([others], partner_seed))
            steps = 1 + tf.gather(tf.cast(order, tf.int64), tf.range(references, dtype=tf.int64) % others)
        steps = tf.where(length > 1, steps, tf.zeros_like(steps))
        indices_b = start + (index_a - start + steps) % length

        frame_a, mask_a = load_frame(index_a, seed_a, colour_seed, start, length)
        if references == 1:
            frame_b, mask_b = load_frame(indices_b[0], seed_b, colour_seed, start, length)
        else:
            seeds_b = tf.random.experimental.stateless_split(seed_b, num=references)
            loaded = [load_frame(indices_b[k], seeds_b[k], colour_seed, start, length) for k in range(references)]
            frame_b = tf.stack([frame for frame, _ in loaded])
            mask_b = tf.stack([mask for _, mask in loaded])
        return {"frame_a": frame_a, "frame_b": frame_b}, {"mask_a": mask_a, "mask_b": mask_b}

    dataset = _sampling.shuffled_indices_with_seeds(num_frames, seed, shuffle)
    # deterministic=True keeps the output order independent of which parallel
    # call finishes first, so seeded runs are reproducible.
    dataset = dataset.map(load_pair, num_parallel_calls=num_parallel_calls, deterministic=True)
    return _sampling.finish(dataset, batch_size, drop_remainder, prefetch_buffer_size)
