"""Online segmentation: each frame segmented as it arrives, from a bounded memory of past frames."""
from __future__ import annotations

import numbers

from cosnet_tf.inference.online_reference_store import OnlineReferenceStore, online_reference_plan
from cosnet_tf.inference.open_frame_source import open_online_source
from cosnet_tf.inference.video_segmenter import VideoSegmenter
from cosnet_tf.postprocessing.crf_stream import refine_stream


def stream_online(core, frames, store, keep_frames=False, stats=None):
    """Segments ``frames`` one by one as they arrive, each against references from the past.

    The online twin of :func:`~cosnet_tf.inference.video_stream.stream_video`, with the same
    core calls: every frame is encoded once (``core.encode``), segmented from its features
    and the references ``store`` picks among earlier frames (``core.segment``, Eq. 13), then
    offered to ``store``, which keeps at most ``store.limit`` feature maps.

    Args:
        core: an `InferenceCore` (or any object with its ``encode``, ``stack_references``,
            ``segment`` and ``model_size``).
        frames: an iterator of ``(index, uint8 [H, W, 3])`` from 0, in order (``iter_frames()``).
        store: an :class:`OnlineReferenceStore` built with ``stack=core.stack_references``.
        keep_frames: yield each frame too; else None.
        stats: a dict to fill with ``frames``, ``encoded``, ``max_cached``, ``limit`` and
            ``input_size`` (known from the first frame).

    Yields:
        ``(index, float32 [H, W] probability, frame or None)``, as soon as each frame is segmented.
    """
    stats = {} if stats is None else stats
    stats.update(frames=0, encoded=0, max_cached=0, limit=store.limit)
    try:
        for index, frame in frames:
            frame_size = tuple(frame.shape[:2])
            if "input_size" not in stats:
                stats["input_size"] = core.model_size(frame_size)
            features = core.encode(frame[None])
            probability = core.segment(features[:1], store.references(index, features[0]), frame_size)
            store.add(index, features[0])
            stats["frames"] = stats["encoded"] = index + 1
            stats["max_cached"] = store.max_cached
            yield index, probability, frame if keep_frames else None
    finally:
        # An abandoned run (Ctrl-C, an error in the caller) closes the camera, file or stream at once.
        close = getattr(frames, "close", None)
        if close is not None:
            close()


class OnlineSegmenter(VideoSegmenter):
    """Segments a video or a live stream online: each frame as it arrives, references from the past.

    A :class:`VideoSegmenter` (same model calls, sizes, fusion, CRF and masks) whose query
    references follow :class:`OnlineReferenceStore`'s rule instead of a plan over the whole
    video: only frames already seen, at most ``store.limit`` feature maps held, so memory
    stays flat however long the stream. Reads anything
    :func:`~cosnet_tf.inference.open_frame_source.open_online_source` takes: video files and
    frame folders, cameras and network streams (PyAV), raw RGB24 frames from a pipe.

    On a stored video, :meth:`segment_encoded` gives the same masks through the offline loop
    with :meth:`reference_plan` (the online plan), for comparing online and offline on one encoding.

    Args:
        model: a `COSNet`.
        num_references: N >= 0 past frames per query (frame 0 is its own reference).
        recent: how many of the N are the latest frames (`OnlineReferenceStore`).
        stdin_size: (height, width) of raw RGB24 frames read from ``"-"`` or a binary stream.
        **options: the other :class:`VideoSegmenter` settings (fusion, input_size,
            short_side, crf, threshold, reference_pool, compile); not ``sampling``.

    Example:

    >>> import numpy as np
    >>> from cosnet_tf import COSNet
    >>> from cosnet_tf.backbones import MobileNetV2DeepLabV3Backbone
    >>> backbone = MobileNetV2DeepLabV3Backbone(alpha=0.35, output_stride=16,
    ...                                         aspp_filters=16, output_filters=16)
    >>> segmenter = OnlineSegmenter(COSNet(backbone, head_filters=16), num_references=3)
    >>> frames = iter(np.zeros((12, 32, 32, 3), np.uint8))
    >>> [index for index, _ in segmenter.iter_segment(frames)][-1]
    11
    >>> segmenter.last_run["max_cached"] <= segmenter.last_run["limit"] == 5
    True
    """

    def __init__(self, model, num_references=5, recent=1, stdin_size=None, **options):
        if "sampling" in options or "seed" in options:
            raise TypeError("OnlineSegmenter picks references by OnlineReferenceStore's rule: no sampling or seed")
        if isinstance(recent, bool) or not isinstance(recent, numbers.Integral) or recent < 0:
            raise ValueError(f"recent must be an integer >= 0, got {recent!r}")
        super().__init__(model, num_references, **options)
        self.recent = int(recent)
        self.stdin_size = stdin_size

    def reference_plan(self, num_frames):
        """The references each frame of a ``num_frames``-frame video gets online."""
        return online_reference_plan(num_frames, self.num_references, self.recent)

    def new_store(self):
        """An empty :class:`OnlineReferenceStore` of this segmenter's N and rule."""
        return OnlineReferenceStore(self.num_references, self.core.stack_references, self.recent)

    def iter_segment(self, source, with_frames=False):
        """Segments frames as they arrive (see :meth:`VideoSegmenter.iter_segment`).

        Args:
            source: what :func:`open_online_source` takes (``"-"``, a URL or device, a file,
                a folder, an array), or an iterator of uint8 [H, W, 3] frames.
            with_frames: also yield each frame.
        """
        if hasattr(source, "__next__") and not hasattr(source, "readinto"):  # frames, not a byte stream
            frames = enumerate(source)
        else:
            frames = open_online_source(source, stdin_size=self.stdin_size).iter_frames()
        self.last_run = stats = {}
        results = stream_online(self.core, frames, self.new_store(),
                                keep_frames=with_frames or self.crf is not None, stats=stats)
        for query, probability, frame in refine_stream(results, self.crf, self.crf_workers):
            yield (query, probability, frame) if with_frames else (query, probability)

    def __repr__(self):
        return super().__repr__().replace("VideoSegmenter(", "OnlineSegmenter(", 1).replace(
            f"sampling={self.sampling!r}", f"recent={self.recent}"
        )
