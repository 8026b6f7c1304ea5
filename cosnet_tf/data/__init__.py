"""Input pipelines of cosnet-tf: dataset readers, ``tf.data`` streams, synthetic data.

Readers (file lists, validated up front):
    :class:`DavisDataset` / :class:`VideoSequence` -- DAVIS-2016 folder layout.
    :class:`SaliencyDataset` -- still images + masks (MSRA10K, DUTS, ...).

Pipelines (``tf.data``, parallel decoding, prefetching, seedable):
    :func:`make_frame_pair_dataset` -- random frame pairs from one video:
        ``({"frame_a", "frame_b"}: float32 [B,H,W,3] 0..255,
        {"mask_a", "mask_b"}: float32 [B,H,W,1] 0/1)``.
    :func:`make_saliency_dataset` -- ``(image, mask)`` batches of stills.
    :func:`make_sequence_frame_dataset` -- one video's frames, in order.

Augmentation: :class:`AugmentationConfig`, :func:`augment_frame_and_mask`,
:func:`resize_frame_and_mask`; one-frame distractors: :func:`paste_object`
(``make_frame_pair_dataset(paste_distractors=p)`` pastes other videos' objects
into frames as background).

Decoding: :func:`load_rgb_image`, :func:`load_binary_mask`,
:func:`load_frame_and_mask`; problems raise :class:`DataFileError` naming the
file (inside ``tf.data`` it surfaces as ``tf.errors.InvalidArgumentError``
with the same message).

Synthetic data: :class:`SyntheticVideoGenerator` (look-alike distractors that come and go),
:class:`RecurrenceVideoGenerator` (the recurrence benchmark: distractors as salient as the
primary object, with a new look in every frame), :class:`SyntheticSequence`.

Example:
    >>> import tempfile
    >>> from cosnet_tf.data import (DavisDataset, SyntheticVideoGenerator,
    ...                             make_frame_pair_dataset)
    >>> root = SyntheticVideoGenerator(num_sequences=3, num_frames=4,
    ...                                image_size=(48, 48)).write_davis(tempfile.mkdtemp())
    >>> train = DavisDataset(root, split="train")
    >>> pairs = make_frame_pair_dataset(train, image_size=(32, 32), batch_size=2, seed=0)
    >>> sum(1 for _ in pairs)   # 2 videos x 4 frames = 8 pairs = 4 batches per epoch
    4
"""

from cosnet_tf.data.augmentation import (
    DEFAULT_AUGMENTATION,
    AugmentationConfig,
    augment_frame_and_mask,
    resize_frame_and_mask,
)
from cosnet_tf.data.composites import COMPOSITE_LABELS, make_composite_dataset
from cosnet_tf.data.davis import DavisDataset, VideoSequence, read_sequence_list
from cosnet_tf.data.decoding import (
    DataFileError,
    load_binary_mask,
    load_frame_and_mask,
    load_rgb_image,
    tf_load_frame_and_mask,
    tf_load_rgb_image,
)
from cosnet_tf.data.distractors import paste_object
from cosnet_tf.data.frame_pairs import make_frame_pair_dataset
from cosnet_tf.data.saliency import SaliencyDataset
from cosnet_tf.data.sequence_frames import make_sequence_frame_dataset
from cosnet_tf.data.still_images import make_saliency_dataset
from cosnet_tf.data.recurrence import ObjectLook, RecurrenceVideoGenerator
from cosnet_tf.data.synthetic import SyntheticSequence, SyntheticVideoGenerator

__all__ = [
    "AugmentationConfig",
    "COMPOSITE_LABELS",
    "DEFAULT_AUGMENTATION",
    "DataFileError",
    "DavisDataset",
    "ObjectLook",
    "RecurrenceVideoGenerator",
    "SaliencyDataset",
    "SyntheticSequence",
    "SyntheticVideoGenerator",
    "VideoSequence",
    "augment_frame_and_mask",
    "load_binary_mask",
    "load_frame_and_mask",
    "load_rgb_image",
    "make_composite_dataset",
    "make_frame_pair_dataset",
    "make_saliency_dataset",
    "make_sequence_frame_dataset",
    "paste_object",
    "read_sequence_list",
    "resize_frame_and_mask",
    "tf_load_frame_and_mask",
    "tf_load_rgb_image",
]
