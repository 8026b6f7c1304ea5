"""Interleaving the still-image and video-pair streams for `COSNetTrainer`."""
import tensorflow as tf

from cosnet_tf.training.cosnet_trainer import IMAGE_STREAM, VIDEO_STREAM


def _tag(stream):
    def tag(frames, masks):
        batch = tf.shape(frames["frame_a"])[0]
        frames = dict(frames, stream=tf.fill([batch], tf.constant(stream, tf.int32)))
        return frames, masks

    return tag


def _as_pair(references):
    # A still image fills every slot so both streams share one element structure (K copies in
    # frame_b when the video stream has K > 1 references); the image step reads only frame_a.
    def as_pair(image, mask):
        if references == 1:
            return {"frame_a": image, "frame_b": image}, {"mask_a": mask, "mask_b": mask}
        copies = lambda t: tf.repeat(t[:, None], references, axis=1)  # noqa: E731
        return {"frame_a": image, "frame_b": copies(image)}, {"mask_a": mask, "mask_b": copies(mask)}

    return as_pair


def mix_streams(video_pairs, still_images=None, video_steps=2, image_steps=1):
    """One endless dataset that alternates `video_steps` pair batches with `image_steps` image batches.

    The authors take one still-image step for every two video steps
    (`video_steps=2, image_steps=1`). Every element is
    `({"frame_a", "frame_b", "stream"}, {"mask_a", "mask_b"})` with
    `stream` = `IMAGE_STREAM` or `VIDEO_STREAM` for each sample, which
    `COSNetTrainer` reads to pick each step (`make_train_function`).

    Args:
        video_pairs: batches from `cosnet_tf.data.make_frame_pair_dataset` (pairs,
            or groups with `references=K`).
        still_images: `(image, mask)` batches from
            `cosnet_tf.data.make_saliency_dataset`, or None (video only).
        video_steps, image_steps: the alternation pattern.

    Example:

    >>> import tempfile
    >>> from cosnet_tf.data import DavisDataset, SyntheticVideoGenerator, make_frame_pair_dataset
    >>> root = SyntheticVideoGenerator(num_sequences=2, num_frames=4,
    ...                                image_size=(40, 40)).write_davis(tempfile.mkdtemp())
    >>> pairs = make_frame_pair_dataset(DavisDataset(root), (32, 32), batch_size=2, seed=0)
    >>> x, y = next(iter(mix_streams(pairs)))
    >>> sorted(x), x["stream"].numpy().tolist()
    (['frame_a', 'frame_b', 'stream'], [1, 1])
    """
    if video_steps < 1 or image_steps < 0:
        raise ValueError(
            f"Need video_steps >= 1 and image_steps >= 0; got {video_steps} and {image_steps}."
        )
    video = video_pairs.repeat().map(_tag(VIDEO_STREAM))
    if still_images is None or image_steps == 0:
        return video
    frame_b = video_pairs.element_spec[0]["frame_b"]
    references = frame_b.shape[1] if frame_b.shape.rank == 5 else 1
    images = still_images.repeat().map(_as_pair(references)).map(_tag(IMAGE_STREAM))
    pattern = [1] * video_steps + [0] * image_steps
    choice = tf.data.Dataset.from_tensor_slices(tf.constant(pattern, tf.int64)).repeat()
    mixed = tf.data.Dataset.choose_from_datasets([images, video], choice)
    return mixed.prefetch(tf.data.AUTOTUNE)
