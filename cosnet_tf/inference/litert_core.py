"""The per-query work of video segmentation with LiteRT models (`cosnet export --format litert`).

The third core `stream_video` drives, beside `InferenceCore` (a Keras model in this
process) and `ServedCore` (a model server): ``encode`` and ``segment`` are the exported
``encode.tflite`` and ``segment.tflite``, run by the `ai-edge-litert` interpreter.
"""
from __future__ import annotations

import json
import os

import numpy as np

from cosnet_tf.inference.video_segmenter import VideoSegmenter
from cosnet_tf.utils.extras import require

METADATA_FILE = "litert.json"
_DEFAULT_VARIANT = "float32"


def is_litert_path(path):
    """True for a `.tflite` file or a folder holding a LiteRT export (a variant's or its parent)."""
    if not isinstance(path, (str, os.PathLike)):
        return False
    path = os.fspath(path)
    if path.endswith(".tflite"):
        return True
    return os.path.isfile(os.path.join(path, METADATA_FILE)) or \
        os.path.isfile(os.path.join(path, _DEFAULT_VARIANT, METADATA_FILE))


def _variant_folder(path):
    path = os.fspath(path)
    if path.endswith(".tflite"):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no LiteRT model {path!r}")
        path = os.path.dirname(path) or "."
    if not os.path.isfile(os.path.join(path, METADATA_FILE)) and \
            os.path.isfile(os.path.join(path, _DEFAULT_VARIANT, METADATA_FILE)):
        path = os.path.join(path, _DEFAULT_VARIANT)
    if not os.path.isfile(os.path.join(path, METADATA_FILE)):
        raise FileNotFoundError(f"{path!r} holds no {METADATA_FILE}: not a folder written by "
                                "`cosnet export --format litert`")
    return path


class LiteRTModel:
    """A LiteRT export of a COSNet: its two interpreters and what the export fixed.

    Args:
        path: a variant folder (``OUT/float32``), the export's folder (``OUT``:
            its float32 variant) or one of a variant's ``.tflite`` files.
        num_threads: interpreter threads (None: every CPU).

    Attributes:
        input_size: the (height, width) the model sees.
        fusion: how it fuses N references ("attention" or "prediction").
        coattention: True when the model has co-attention, else None (as `COSNet.coattention`).
        variant: "float32" or "float16".
    """

    def __init__(self, path, num_threads=None):
        interpreter = require("ai_edge_litert.interpreter", "litert", f"running the LiteRT model {path!r}")
        self.path = _variant_folder(path)
        metadata_path = os.path.join(self.path, METADATA_FILE)
        try:
            with open(metadata_path) as f:
                metadata = json.load(f)
            self.input_size = tuple(int(v) for v in metadata["input_size"])
            self.feature_shape = tuple(int(v) for v in metadata["feature_shape"])
            self.fusion = metadata["fusion"]
            self.coattention = True if metadata["coattention"] else None
            self.variant = metadata.get("variant", _DEFAULT_VARIANT)
            files = metadata["encode"], metadata["segment"]
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{metadata_path}: not a valid LiteRT export description ({error!r})") from None
        threads = num_threads or os.cpu_count() or 1
        self.encode_runner, self.segment_runner = (
            interpreter.Interpreter(model_path=os.path.join(self.path, file), num_threads=threads)
            .get_signature_runner() for file in files)

    def encode(self, frames):
        """uint8 frames [B, H, W, 3] -> features [B, h, w, C] (resized to `input_size` inside)."""
        frames = np.asarray(frames)
        if frames.dtype != np.uint8:
            frames = np.clip(np.rint(frames), 0, 255).astype(np.uint8)
        return self.encode_runner(frames=frames)["features"]

    def segment(self, query_features, reference_features, output_size):
        """[1, h, w, C] and [N, h, w, C] (N >= 0) features -> [H, W] probabilities at `output_size`."""
        if reference_features is None:
            reference_features = np.zeros((0, *self.feature_shape), np.float32)
        outputs = self.segment_runner(
            query_features=np.asarray(query_features, np.float32),
            reference_features=np.asarray(reference_features, np.float32),
            output_size=np.asarray(output_size, np.int32).reshape(2),
        )
        return outputs["probabilities"][0]

    def __repr__(self):
        return f"LiteRTModel({self.path!r}, input_size={self.input_size}, fusion={self.fusion!r})"


class LiteRTCore:
    """The calls of `stream_video` on a `LiteRTModel` (the counterpart of `InferenceCore`)."""

    def __init__(self, model):
        self.model = model

    def model_size(self, frame_size):
        """The (height, width) the model sees: the export's, whatever the frame size."""
        return self.model.input_size

    def encode(self, frames):
        return self.model.encode(frames)

    def stack_references(self, reference_maps):
        return np.stack([np.asarray(features) for features in reference_maps])

    def segment(self, query, references, frame_size, model_size=None):
        return np.asarray(self.model.segment(query, references, frame_size), np.float32)


class LiteRTSegmenter(VideoSegmenter):
    """A `VideoSegmenter` (the same loop, reference plans and outputs) on a `LiteRTModel`.

    The model fixes the input size and fusion at export time; asking for others is an
    error rather than a silent change. ``reference_pool`` K > 1 is not offered (the
    exported references keep the full feature size).

    Example::

        segmenter = LiteRTSegmenter(LiteRTModel("exports/cosnet/float32"), num_references=5)
        probabilities = segmenter.segment("clip.mp4")    # [T, H, W]
    """

    def __init__(self, model, **kwargs):
        fusion = kwargs["fusion"] = kwargs.get("fusion") or model.fusion
        if fusion != model.fusion:
            raise ValueError(f"{model.path} was exported with fusion={model.fusion!r}; got fusion={fusion!r} "
                             "(export again with --fusion to change it)")
        size = kwargs.get("input_size")
        if size is not None and tuple(int(v) for v in size) != model.input_size:
            raise ValueError(f"{model.path} has the fixed input size {model.input_size}; got input_size={size} "
                             "(export again with --input-size to change it)")
        if kwargs.get("short_side") is not None:
            raise ValueError(f"{model.path} has the fixed input size {model.input_size}; short_side does not "
                             "apply (export again with --short-side to change it)")
        if kwargs.get("flip"):
            raise ValueError("flip is not offered with a LiteRT model (its encoder takes the frames unmirrored)")
        if kwargs.get("reference_pool", 1) != 1:
            raise ValueError("reference_pool > 1 is not offered with a LiteRT model (its references keep the "
                             "exported feature size)")
        super().__init__(model, **kwargs)
        self.core = LiteRTCore(model)
