"""Online segmentation: each frame segmented as it arrives, from a bounded memory of frames seen."""
from __future__ import annotations

from cosnet_tf.inference.online_reference_store import OnlineReferenceStore, online_order, online_reference_plan
from cosnet_tf.inference.open_frame_source import open_online_source
from cosnet_tf.inference.video_segmenter import VideoSegmenter
from cosnet_tf.postprocessing.crf_stream import refine_stream
from cosnet_tf.utils.validation import non_negative_int


def stream_online(core, frames, store, keep_frames=False, stats=None, lag=0):
    """Segments ``frames`` one by one as they arrive, each against references already seen.

    The online twin of :func:`~cosnet_tf.inference.video_stream.stream_video`, with the same
    core calls: every frame is encoded once (``core.encode``), offered to ``store``, which
    keeps at most ``store.limit`` feature maps, and segmented from its features and the
    references ``store`` picks (``core.segment``, Eq. 13) once it is due (`online_order`:
    at once, from earlier frames, with ``lag = 0``; after ``lag`` more frames otherwise).

    Args:
        core: an `InferenceCore` (or any object with its ``encode``, ``stack_references``,
            ``segment`` and ``model_size``).
        frames: an iterator of ``(index, uint8 [H, W, 3])`` from 0, in order (``iter_frames()``).
        store: an :class:`OnlineReferenceStore` built with ``stack=core.stack_references``.
        keep_frames: yield each frame too; else None.
        stats: a dict to fill with ``frames``, ``encoded``, ``max_cached``, ``limit`` and
            ``input_size`` (known from the first frame); ``max_cached`` and ``limit`` count the
            feature maps the store holds and those of the (at most ``lag``) frames that wait.
        lag: frames read before a frame is segmented (`online_order`).

    Yields:
        ``(index, float32 [H, W] probability, frame or None)``, as soon as each frame is segmented.
    """
    lag = non_negative_int("lag", lag)
    stats = {} if stats is None else stats
    stats.update(frames=0, encoded=0, max_cached=0, limit=store.limit + lag)

    def encoded(frames):
        for index, frame in frames:
            if "input_size" not in stats:
                stats["input_size"] = core.model_size(tuple(frame.shape[:2]))
            features = core.encode(frame[None])
            stats["encoded"] = index + 1
            yield index, (features, frame)

    try:
        for index, (features, frame) in online_order(encoded(frames), store, lag, stored=lambda item: item[0][0]):
            probability = core.segment(features[:1], store.references(index, features[0]), tuple(frame.shape[:2]))
            waiting = set(range(index + 1, stats["encoded"]))
            stats["frames"] = index + 1
            stats["max_cached"] = max(stats["max_cached"], store.max_cached, len(set(store) | waiting))
            yield index, probability, frame if keep_frames else None
        stats["max_cached"] = max(stats["max_cached"], store.max_cached)  # the last frame's add
    finally:
        # An abandoned run (Ctrl-C, an error in the caller) closes the camera, file or stream at once.
        close = getattr(frames, "close", None)
        if close is not None:
            close()


class OnlineSegmenter(VideoSegmenter):
    """Segments a video or a live stream online: each frame as it arrives, references from frames seen.

    A :class:`VideoSegmenter` (same model calls, sizes, fusion, CRF and masks) whose query
    references follow :class:`OnlineReferenceStore`'s rule instead of a plan over the whole
    video: only frames already seen, at most ``store.limit + lag`` feature maps held, so
    memory stays flat however long the stream. Reads anything
    :func:`~cosnet_tf.inference.open_frame_source.open_online_source` takes: video files and
    frame folders, cameras and network streams (PyAV), raw RGB24 frames from a pipe.

    On a stored video, :meth:`segment_encoded` gives the same masks through the offline loop
    with :meth:`reference_plan` (the online plan), for comparing online and offline on one encoding.

    Args:
        model: a `COSNet`.
        num_references: N >= 0 frames seen per query (frame 0, with no lag, is its own reference).
        recent: how many of the N are the latest frames (`OnlineReferenceStore`).
        lag: frames read before a frame is segmented, so its references may be up to ``lag``
            later frames too; each mask comes that many frames late (`online_order`).
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

    def __init__(self, model, num_references=5, recent=1, lag=0, stdin_size=None, **options):
        if "sampling" in options or "seed" in options:
            raise TypeError("OnlineSegmenter picks references by OnlineReferenceStore's rule: no sampling or seed")
        self.recent = non_negative_int("recent", recent)
        self.lag = non_negative_int("lag", lag)
        super().__init__(model, num_references, **options)
        self.stdin_size = stdin_size

    def reference_plan(self, num_frames):
        """The references each frame of a ``num_frames``-frame video gets online."""
        return online_reference_plan(num_frames, self.num_references, self.recent, self.lag)

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
                                keep_frames=with_frames or self.crf is not None, stats=stats, lag=self.lag)
        for query, probability, frame in refine_stream(results, self.crf, self.crf_workers):
            yield (query, probability, frame) if with_frames else (query, probability)

    def __repr__(self):
        return super().__repr__().replace("VideoSegmenter(", "OnlineSegmenter(", 1).replace(
            f"sampling={self.sampling!r}", f"recent={self.recent}, lag={self.lag}"
        )
