"""Segmenting whole videos with a COSNet: each frame encoded once, memory bounded."""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from cosnet_tf.inference.inference_core import InferenceCore
from cosnet_tf.inference.open_frame_source import open_frame_source
from cosnet_tf.inference.reference_sampling import SAMPLING_STRATEGIES, reference_plan
from cosnet_tf.inference.video_stream import stream_video
from cosnet_tf.models.cosnet import FUSIONS
from cosnet_tf.postprocessing.crf_stream import refine_stream
from cosnet_tf.utils.validation import positive_int, positive_size


class _EncodingCore:
    """A core that encodes and keeps every batch, and segments nothing: `encode_video`'s."""

    def __init__(self, core):
        self.core, self.batches = core, []

    def encode(self, frames):
        self.batches.append(self.core.encode(frames))
        return self.batches[-1]

    def stack_references(self, reference_maps):
        return self.core.stack_references(reference_maps)

    def segment(self, query, references, frame_size):
        return None


class _EncodedFrames:
    """The frames of an encoded video as `stream_video` reads them: each frame is its index."""

    def __init__(self, num_frames, frame_size):
        self.num_frames, self.frame_size = num_frames, tuple(frame_size)

    def __len__(self):
        return self.num_frames

    def iter_frames(self, start=0):
        return ((index, index) for index in range(start, self.num_frames))

    def read_frames(self, indices):
        return {index: index for index in indices}


class _EncodedCore:
    """A core whose "frames" are indices into features encoded earlier (`segment_encoded`'s)."""

    def __init__(self, core, encoded):
        self.core, self.encoded = core, encoded

    def encode(self, indices):
        return tf.gather(self.encoded.features, indices)

    def stack_references(self, reference_maps):
        return self.core.stack_references(reference_maps)

    def segment(self, query, references, frame_size):
        return self.core.segment(query, references, frame_size, self.encoded.model_size)


class EncodedVideo(NamedTuple):
    """A whole video's backbone features, from :meth:`VideoSegmenter.encode_video`."""

    features: object  # [T, h, w, C] tensor
    model_size: tuple  # (height, width) the frames were resized to for the model
    frame_size: tuple  # (height, width) of the frames (and of the probabilities)


class VideoSegmenter:
    """Segments every frame of a video with COSNet's multi-reference inference (Section 3.4).

    A query frame's prediction comes from its co-attention with N reference
    frames of the same video (Eq. 13). The authors' test script runs the
    Siamese network on each (query, reference) pair, so it re-encodes both
    frames N times per query and also computes the reference branch's
    summary, head and saliency outputs, which a query does not need. Here:

    * every frame goes through the backbone exactly once (``model.encode``,
      ``batch_size`` frames per call), and its features are shared by all
      queries that use it as a reference;
    * the query is segmented from those features (``model.segment``): only
      the query's summaries ``Z_a`` (not ``Z_b``), one head, no saliency;
    * only the features still needed are kept: with ``"uniform"`` or
      ``"random"`` sampling the global reference set (at most 2N frames, read
      and encoded first) stays for the whole video, with ``"local"`` a
      sliding window of about ``N + batch_size`` frames; every other frame's
      features are dropped right after its own query. Frames are decoded
      from the source as they are needed, so a long video never sits in
      memory.

    Frames are resized (bilinear) to ``input_size`` for the model and the
    probabilities resized back (bilinear) to the frame's resolution, as the
    authors' script does.

    The parts, in the shape of Cutie's inference core: an
    :class:`~cosnet_tf.inference.inference_core.InferenceCore` (the per-query
    model calls, compiled once per model), the loop
    :func:`~cosnet_tf.inference.video_stream.stream_video` with its
    :class:`~cosnet_tf.inference.reference_feature_store.ReferenceFeatureStore`
    (shared with served inference, `cosnet predict`), and the CRF as a stage
    wrapping the stream (:func:`~cosnet_tf.postprocessing.crf_stream.refine_stream`).

    Args:
        model: a `COSNet` (anything with its ``encode``, ``segment`` and
            ``inference_size``).
        num_references: N >= 0 reference frames per query; 0 is the
            frame-by-frame baseline (no co-attention, Table 2).
        sampling: ``"uniform"``, ``"random"`` or ``"local"`` (Table 1; see
            :func:`~cosnet_tf.inference.reference_plan`).
        fusion: ``"attention"`` (mean of the gated summaries, Eq. 13),
            ``"prediction"`` (mean of the N probabilities, the authors'
            script) or ``"joint"`` (one softmax over all N references'
            positions); None: the model's own (``model.reference_fusion``).
        input_size: (height, width) the model sees; None: ``short_side``.
        short_side: scale each frame so its short side is about this long,
            keeping its aspect (sides rounded to the backbone's output
            stride); None: ``model.inference_short_side``, else
            ``model.inference_size``, else each video's own frame size (see
            :func:`~cosnet_tf.inference.input_size.resolve_input_size`).
        batch_size: frames per backbone call.
        crf: a :class:`~cosnet_tf.postprocessing.DenseCRF` to refine each
            probability map with (on the full-resolution frame), or None.
        crf_workers: processes the CRF runs in (it is single-threaded and,
            at 480p, slower than the model): with more than 1, frames are
            refined in a process pool while the model works on the next
            ones, at most ``2 * crf_workers`` frames in flight. ``crf`` must
            then be picklable (a `DenseCRF` is).
        threshold: foreground where probability > threshold (:meth:`mask`).
        seed: seed of the ``"random"`` sampling (one draw per video).
        reference_pool: 1 (default) attends to every position of each
            reference, exactly Eq. 6-7. K > 1 average-pools the reference
            features K x K (stride K) first, an approximation that divides
            the co-attention's cost (h*w x h'*w' per reference) by about K^2;
            the query keeps its full resolution. Meant for large frames,
            where the co-attention dominates (see
            ``benchmarks/segment_speed.py`` for its cost and accuracy).
        compile: run the model through ``tf.function`` graphs (faster); False
            runs it eagerly (debugging).
        flip: test-time flip averaging (see
            :class:`~cosnet_tf.inference.inference_core.InferenceCore`): each
            frame is also segmented mirrored, from the features of its
            mirrored references, and the two probabilities averaged; twice the
            model's work.

    Attributes:
        last_run: after a video, a dict: ``frames``, ``encoded`` (frames put
            through the backbone), ``max_cached`` (most feature maps held at
            once), ``input_size``.

    Example:

    >>> import numpy as np
    >>> from cosnet_tf import COSNet
    >>> from cosnet_tf.backbones import MobileNetV2DeepLabV3Backbone
    >>> backbone = MobileNetV2DeepLabV3Backbone(alpha=0.35, output_stride=16,
    ...                                         aspp_filters=16, output_filters=16)
    >>> model = COSNet(backbone, head_filters=16)
    >>> video = np.random.default_rng(0).integers(0, 255, (6, 40, 56, 3), dtype=np.uint8)
    >>> segmenter = VideoSegmenter(model, num_references=2, input_size=(32, 32))
    >>> probabilities = segmenter.segment(video)
    >>> probabilities.shape, probabilities.dtype, segmenter.last_run["encoded"]
    ((6, 40, 56), dtype('float32'), 6)
    >>> segmenter.mask(probabilities[0]).dtype
    dtype('uint8')
    """

    def __init__(
        self,
        model,
        num_references=5,
        sampling="uniform",
        fusion=None,
        input_size=None,
        batch_size=4,
        crf=None,
        threshold=0.5,
        seed=0,
        compile=True,
        crf_workers=1,
        reference_pool=1,
        short_side=None,
        flip=False,
    ):
        if isinstance(num_references, bool) or not isinstance(num_references, numbers.Integral) \
                or num_references < 0:
            raise ValueError(f"num_references must be an integer >= 0, got {num_references!r}")
        if sampling not in SAMPLING_STRATEGIES:
            raise ValueError(f"unknown sampling {sampling!r}; expected one of {SAMPLING_STRATEGIES}")
        if fusion is not None and fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; expected one of {FUSIONS}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(f"threshold must lie in [0, 1], got {threshold!r}")
        if isinstance(crf_workers, bool) or not isinstance(crf_workers, numbers.Integral) \
                or crf_workers < 1:
            raise ValueError(f"crf_workers must be an integer >= 1, got {crf_workers!r}")
        if isinstance(reference_pool, bool) or not isinstance(reference_pool, numbers.Integral) \
                or reference_pool < 1:
            raise ValueError(f"reference_pool must be an integer >= 1, got {reference_pool!r}")
        if crf is not None and not callable(crf):
            raise TypeError(f"crf must be a DenseCRF (or a callable (frame, probability)), got {crf!r}")
        self.model = model
        self.num_references = int(num_references)
        self.sampling = sampling
        self.fusion = getattr(model, "reference_fusion", "attention") if fusion is None else fusion
        self.flip = bool(flip)
        self.input_size = positive_size("input_size", input_size)
        self.short_side = None if short_side is None else positive_int("short_side", short_side)
        self.batch_size = int(batch_size)
        self.crf = crf
        self.crf_workers = int(crf_workers)
        self.threshold = float(threshold)
        self.seed = seed
        self.compile = bool(compile)
        self.reference_pool = int(reference_pool)
        self.last_run = {}
        self.core = InferenceCore(model, self.fusion, self.input_size, self.short_side, self.reference_pool,
                                  self.compile, self.flip)

    # ------------------------------------------------------------ model calls
    def resolve_input_size(self, frame_size):
        """The (height, width) the model sees for frames of ``frame_size``."""
        return self.core.model_size(frame_size)

    def warm_up(self, frame_size):
        """Traces and runs the model's graphs once for frames of ``frame_size`` (H, W).

        The first video otherwise pays for tracing (seconds); call this before
        timing, or before a server takes its first request.
        """
        frame_size = positive_size("frame_size", frame_size)
        frames = np.zeros((self.batch_size, *frame_size, 3), np.uint8)
        features = self.core.encode(frames)
        if self.batch_size > 1:
            # A video's last batch is usually smaller: trace the general shape too.
            self.core.encode(frames[:1])
        references = None
        if self.num_references:
            references = self.core.stack_references([features[0]] * self.num_references)
        self.core.segment(features[:1], references, frame_size)

    # --------------------------------------------------------------- planning
    def reference_plan(self, num_frames):
        """The sorted reference indices of every query of a ``num_frames``-frame video."""
        return reference_plan(num_frames, self.num_references, self.sampling, self.seed)

    # -------------------------------------------------------------- inference
    def iter_segment(self, source, with_frames=False):
        """Segments a video frame by frame, in order.

        Args:
            source: anything :func:`~cosnet_tf.inference.open_frame_source`
                takes: a [T, H, W, 3] array, a list of image paths, a folder,
                a video file, or a `FrameSource`.
            with_frames: also yield each frame (uint8 [H, W, 3]), e.g. for
                overlays, without decoding the video again.

        Yields:
            ``(index, probability)``: float32 [H, W] foreground probability
            at the frame's resolution (after the CRF when one is set); with
            ``with_frames``, ``(index, probability, frame)``.
        """
        source = open_frame_source(source)
        self.last_run = stats = {"input_size": self.resolve_input_size(tuple(source.frame_size))}
        results = stream_video(self.core, source, self.reference_plan(len(source)), self.batch_size,
                               keep_frames=with_frames or self.crf is not None, stats=stats)
        for query, probability, frame in refine_stream(results, self.crf, self.crf_workers):
            yield (query, probability, frame) if with_frames else (query, probability)

    def encode_video(self, source):
        """Every frame of a video through the backbone once, kept in memory.

        With :meth:`segment_encoded`, this compares settings (N, sampling,
        fusion, reference_pool) on one video without encoding it again: the
        segmenters must share the model and the input size. Unlike
        :meth:`iter_segment`, all features are held at once, so this is for
        short videos (evaluation), not for long ones.

        Returns:
            An :class:`EncodedVideo`.
        """
        source = open_frame_source(source)
        frame_size = tuple(source.frame_size)
        if len(source) == 0:
            raise ValueError(f"{source!r} has no frames to encode")
        recorder = _EncodingCore(self.core)
        # No references and no segmentation: the loop only reads and encodes, in order.
        for _ in stream_video(recorder, source, [[] for _ in range(len(source))], self.batch_size):
            pass
        return EncodedVideo(tf.concat(recorder.batches, axis=0), self.resolve_input_size(frame_size), frame_size)

    def segment_encoded(self, encoded):
        """Probabilities [T, H, W] of a video from its :meth:`encode_video` features.

        Gives what :meth:`segment` gives on the same frames (no CRF: it needs
        the frames), with this segmenter's N, sampling, fusion and pooling.

        Example:

        >>> import numpy as np
        >>> from cosnet_tf import COSNet
        >>> from cosnet_tf.backbones import MobileNetV2DeepLabV3Backbone
        >>> backbone = MobileNetV2DeepLabV3Backbone(alpha=0.35, output_stride=16,
        ...                                         aspp_filters=16, output_filters=16)
        >>> model = COSNet(backbone, head_filters=16)
        >>> video = np.random.default_rng(0).integers(0, 255, (5, 32, 32, 3), dtype=np.uint8)
        >>> encoded = VideoSegmenter(model).encode_video(video)
        >>> for n in (0, 2):
        ...     segmenter = VideoSegmenter(model, num_references=n)
        ...     same = np.allclose(segmenter.segment_encoded(encoded), segmenter.segment(video), atol=1e-5)
        ...     print(n, same)
        0 True
        2 True
        """
        features, model_size, frame_size = encoded
        num_frames = int(features.shape[0])
        self.last_run = stats = {"input_size": tuple(model_size)}
        results = stream_video(_EncodedCore(self.core, encoded), _EncodedFrames(num_frames, frame_size),
                               self.reference_plan(num_frames), self.batch_size, stats=stats)
        return np.stack([probability for _, probability, _ in results])

    def segment(self, frames):
        """Probabilities of every frame: float32 [T, H, W] (see :meth:`iter_segment`).

        Args:
            frames: a uint8 [T, H, W, 3] array, a list of image paths, a
                folder or video file path, or a `FrameSource`.
        """
        return np.stack([probability for _, probability in self.iter_segment(frames)])

    def mask(self, probability):
        """A DAVIS-style mask: uint8, 255 where probability > threshold, else 0."""
        return np.where(np.asarray(probability) > self.threshold, 255, 0).astype(np.uint8)

    def __repr__(self):
        return (
            f"VideoSegmenter(num_references={self.num_references}, sampling={self.sampling!r}, "
            f"fusion={self.fusion!r}, input_size={self.input_size}, short_side={self.short_side}, "
            f"batch_size={self.batch_size}, "
            f"crf={self.crf!r}, crf_workers={self.crf_workers}, threshold={self.threshold}, "
            f"reference_pool={self.reference_pool}, flip={self.flip})"
        )
