"""`segment_video`: a whole video's masks in one call."""
import numpy as np

from cosnet_tf.inference.online_segmenter import OnlineSegmenter
from cosnet_tf.inference.video_segmenter import VideoSegmenter
from cosnet_tf.models.loading import load_model


def segment_video(video, model=None, num_references=5, threshold=0.5, online=False, **segmenter_options):
    """Masks of every frame of `video`, segmented as `cosnet segment` does.

    Args:
        video: a frame folder, a video file (PyAV), a list of image paths, or an array
            [T, H, W, 3] of RGB frames (0-255).
        model: a `COSNet`; default the shipped model (`cosnet_tf.load_model()`).
        num_references: N reference frames per frame (0: frame by frame).
        threshold: foreground where the probability exceeds it.
        online: segment each frame from past frames only, in a bounded memory
            (`OnlineSegmenter`; `video` may then also be a live source, see `open_online_source`).
        **segmenter_options: more `VideoSegmenter` settings (sampling, fusion,
            short_side, input_size, crf, ...).

    Returns:
        uint8 masks [T, H, W], 0 or 255, at the frames' own size. The whole video's masks are
        held in memory: for long videos, stream with `VideoSegmenter.iter_segment` or
        `cosnet segment`.

    Example:
        >>> import numpy as np
        >>> from cosnet_tf import COSNet, segment_video
        >>> from cosnet_tf.backbones import MobileNetV2DeepLabV3Backbone
        >>> model = COSNet(MobileNetV2DeepLabV3Backbone(alpha=0.35, aspp_filters=16, output_filters=16),
        ...                head_filters=16)  # untrained: cosnet_tf.load_model() is the trained one
        >>> video = np.random.default_rng(0).integers(0, 255, (4, 48, 80, 3), dtype=np.uint8)
        >>> masks = segment_video(video, model, num_references=2)
        >>> masks.shape, masks.dtype
        ((4, 48, 80), dtype('uint8'))
        >>> segment_video(video, model, num_references=2, online=True).shape
        (4, 48, 80)
    """
    segmenter_class = OnlineSegmenter if online else VideoSegmenter
    segmenter = segmenter_class(model if model is not None else load_model(), num_references,
                                threshold=threshold, **segmenter_options)
    masks = [segmenter.mask(probability) for _, probability in segmenter.iter_segment(video)]
    if not masks:
        raise ValueError(f"no frames to segment in {video!r}" if not hasattr(video, "shape")
                         else f"no frames to segment: the array has shape {video.shape}")
    return np.stack(masks)
