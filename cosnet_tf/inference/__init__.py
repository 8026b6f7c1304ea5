"""Video inference with COSNet: whole videos segmented with shared, cached features.

* :class:`VideoSegmenter` -- segments every frame of a video against N
  reference frames, encoding each frame once (Section 3.4, Eq. 13). Its
  parts: :class:`InferenceCore` (the model calls), :func:`stream_video` (the
  one loop over a video, also behind served inference) with its
  :class:`ReferenceFeatureStore`.
* :func:`reference_plan` -- every query's reference frames, by one of the
  paper's sampling strategies (Table 1): ``"uniform"``, ``"random"``,
  ``"local"``.
* Frame sources, decoded lazily with errors naming the file:
  :class:`ArrayFrameSource`, :class:`ImageFrameSource` (folders, path lists,
  DAVIS roots), :class:`VideoFileFrameSource` (PyAV); :func:`open_frame_source`.
* Online: :class:`OnlineSegmenter` segments each frame as it arrives, with
  references from a bounded memory of past frames (:class:`OnlineReferenceStore`);
  it also reads live sources (:class:`PyAVStreamSource`: cameras, URLs;
  :class:`RawFrameStream`: raw RGB24 on stdin), see :func:`open_online_source`.
* :func:`explain_frame` / :func:`render_explanation_sheet` -- one frame's masks with
  and without references, gate confidence and attention maps (``cosnet explain``).
* :class:`MaskWriter` -- writes masks, probability maps and overlays, each
  file atomically.

Example:

>>> import numpy as np
>>> from cosnet_tf import COSNet
>>> from cosnet_tf.backbones import MobileNetV2DeepLabV3Backbone
>>> from cosnet_tf.inference import VideoSegmenter
>>> backbone = MobileNetV2DeepLabV3Backbone(alpha=0.35, output_stride=16,
...                                         aspp_filters=16, output_filters=16)
>>> segmenter = VideoSegmenter(COSNet(backbone, head_filters=16), num_references=2)
>>> video = np.zeros((4, 32, 32, 3), np.uint8)
>>> [index for index, probability in segmenter.iter_segment(video)]
[0, 1, 2, 3]
"""
from cosnet_tf.inference.array_frame_source import ArrayFrameSource
from cosnet_tf.inference.explanation import FrameExplanation, explain_frame, render_explanation_sheet
from cosnet_tf.inference.frame_source import FrameSource
from cosnet_tf.inference.image_frame_source import IMAGE_EXTENSIONS, ImageFrameSource
from cosnet_tf.inference.inference_core import InferenceCore
from cosnet_tf.inference.live_frame_source import LiveFrameSource, PyAVStreamSource, RawFrameStream
from cosnet_tf.inference.mask_writer import MaskWriter
from cosnet_tf.inference.online_reference_store import OnlineReferenceStore, online_reference_plan
from cosnet_tf.inference.online_segmenter import OnlineSegmenter, stream_online
from cosnet_tf.inference.open_frame_source import is_live_input, open_frame_source, open_online_source
from cosnet_tf.inference.reference_sampling import SAMPLING_STRATEGIES, reference_plan
from cosnet_tf.inference.reference_feature_store import ReferenceFeatureStore
from cosnet_tf.inference.video_frame_source import VideoFileFrameSource
from cosnet_tf.inference.video_segmenter import FUSIONS, EncodedVideo, VideoSegmenter
from cosnet_tf.inference.video_stream import stream_video

__all__ = [
    "ArrayFrameSource",
    "EncodedVideo",
    "FUSIONS",
    "FrameExplanation",
    "FrameSource",
    "IMAGE_EXTENSIONS",
    "ImageFrameSource",
    "InferenceCore",
    "LiveFrameSource",
    "MaskWriter",
    "OnlineReferenceStore",
    "OnlineSegmenter",
    "PyAVStreamSource",
    "RawFrameStream",
    "ReferenceFeatureStore",
    "SAMPLING_STRATEGIES",
    "VideoFileFrameSource",
    "VideoSegmenter",
    "explain_frame",
    "is_live_input",
    "online_reference_plan",
    "open_frame_source",
    "open_online_source",
    "reference_plan",
    "render_explanation_sheet",
    "stream_online",
    "stream_video",
]
