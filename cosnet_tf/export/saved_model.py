"""Export a COSNet as a TensorFlow SavedModel for TensorFlow Serving.

The SavedModel holds three signatures (uint8 frames in, float32 out; every
resize and the preprocessing live inside the graph):

==========================  ==========================================  =====================================
signature                   inputs                                      outputs
==========================  ==========================================  =====================================
``serving_default``         ``query``      uint8   [H, W, 3]            ``probabilities`` float32 [H, W]
                            ``references`` uint8   [N, H', W', 3]
``encode``                  ``frames``     uint8   [B, H, W, 3]         ``features`` float32 [B, h, w, C]
``segment_from_features``   ``query_features``     float32 [B, h, w, C] ``probabilities`` float32 [B, H, W]
                            ``reference_features`` float32 [N, h', w', C]
                            ``output_size``        int32   [2] = (H, W)
==========================  ==========================================  =====================================

* Frames are RGB, values 0..255, of any size; ``encode`` and
  ``serving_default`` resize them bilinearly to the size ``cosnet segment``
  uses: aspect-preserving to ``model.inference_short_side`` when set, else
  ``model.inference_size``, else their own size. The model segments at that size and the
  probabilities are resized bilinearly to the query's own size (``output_size`` for
  ``segment_from_features``): `cosnet segment`'s path (`segment_at_frame_size`), so a served
  model gives its masks.
* N >= 0: with N = 0 (``references`` of shape [0, H', W', 3], e.g.
  [0, 1, 1, 3]) there is no co-attention: the frame-by-frame baseline.
  The references of one request share one size; the query's may differ.
* B >= 1 in ``encode`` and ``segment_from_features`` (every query of a
  ``segment_from_features`` request is segmented against the same N
  references). Empty frames, batches or sizes are rejected in the graph
  (``INVALID_ARGUMENT``).
* Fusion of the N references is fixed at export time: ``"attention"``
  (default: the mean of the N gated attention summaries, Eq. 13) or
  ``"prediction"`` (the mean of the N probabilities, as the authors' test
  script does).
* ``encode`` followed by ``segment_from_features`` gives exactly what
  ``serving_default`` gives, so a client can segment a whole video encoding
  each frame once (`cosnet_tf.serving.segment_video`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile

import keras
import tensorflow as tf

from cosnet_tf.inference.inference_core import segment_at_frame_size
from cosnet_tf.inference.input_size import tf_model_input_size
from cosnet_tf.layers.resize import resize_bilinear
from cosnet_tf.models.cosnet import FUSIONS

SIGNATURE_NAMES = ("serving_default", "encode", "segment_from_features")
# Inputs whose leading dimension may be 0 (no reference frames).
MAY_BE_EMPTY = frozenset({"references", "reference_features"})


# --------------------------------------------------------------- graph parts
def prepare_frames(model, frames):
    """uint8 (or float) RGB frames [B, H, W, 3] -> float32 frames at the model's input size.

    The size `cosnet segment` uses (`resolve_input_size`): aspect-preserving when the model
    has an `inference_short_side`, else its fixed `inference_size`, else the frames' own.
    """
    frames = tf.cast(frames, tf.float32)
    return resize_bilinear(frames, tf_model_input_size(model, tf.shape(frames)[1:3]))


def _assert_positive(values, message):
    return tf.debugging.assert_positive(values, message=message)


class _Signatures:
    """The three serving functions of one model (traced by `ExportArchive`)."""

    def __init__(self, model, fusion):
        self.model = model
        self.fusion = fusion
        self.channels = model.feature_channels

    def encode(self, frames):
        with tf.control_dependencies(
            [
                _assert_positive(
                    tf.shape(frames)[:3],
                    "encode: `frames` must be [B, H, W, 3] with B, H, W > 0 (empty batch or frame)",
                )
            ]
        ):
            features = self.model.encode(prepare_frames(self.model, frames), training=False)
        return {"features": features}

    def segment_from_features(self, query_features, reference_features, output_size):
        with tf.control_dependencies(
            [
                _assert_positive(
                    tf.shape(query_features)[:3],
                    "segment_from_features: `query_features` must be [B, h, w, C] with B, h, w > 0 "
                    "(empty batch)",
                ),
                _assert_positive(
                    output_size, "segment_from_features: `output_size` must be two positive sizes (H, W)"
                ),
            ]
        ):
            # [N, h', w', C] -> [1, N, ...]: one set of references shared by every query.
            probabilities = segment_at_frame_size(
                self.model,
                query_features,
                reference_features[None],
                tf_model_input_size(self.model, output_size),
                output_size,
                self.fusion,
            )
        return {"probabilities": probabilities[..., 0]}

    def serving_default(self, query, references):
        with tf.control_dependencies(
            [
                _assert_positive(
                    tf.shape(query)[:2], "serving_default: `query` must be [H, W, 3] with H, W > 0"
                )
            ]
        ):
            size = tf.shape(query)[:2]
            q = self.model.encode(prepare_frames(self.model, query[None]), training=False)
        n = tf.shape(references)[0]

        def encode_references():
            with tf.control_dependencies(
                [
                    _assert_positive(
                        tf.shape(references)[1:3],
                        "serving_default: `references` must be [N, H', W', 3] with H', W' > 0 when N > 0",
                    )
                ]
            ):
                return self.model.encode(prepare_frames(self.model, references), training=False)

        def no_references():
            shape = tf.shape(q)
            return tf.zeros(tf.stack([0, shape[1], shape[2], shape[3]]), q.dtype)

        refs = tf.ensure_shape(
            tf.cond(n > 0, encode_references, no_references), [None, None, None, self.channels]
        )
        probabilities = segment_at_frame_size(
            self.model, q, refs[None], tf_model_input_size(self.model, size), size, self.fusion
        )
        return {"probabilities": probabilities[0, :, :, 0]}

    def input_signatures(self):
        c = self.channels
        return {
            "serving_default": [
                tf.TensorSpec([None, None, 3], tf.uint8, name="query"),
                tf.TensorSpec([None, None, None, 3], tf.uint8, name="references"),
            ],
            "encode": [tf.TensorSpec([None, None, None, 3], tf.uint8, name="frames")],
            "segment_from_features": [
                tf.TensorSpec([None, None, None, c], tf.float32, name="query_features"),
                tf.TensorSpec([None, None, None, c], tf.float32, name="reference_features"),
                tf.TensorSpec([2], tf.int32, name="output_size"),
            ],
        }


# ------------------------------------------------------------------- layout
_VERSION = re.compile(r"^[0-9]+$")


def model_versions(model_dir):
    """The numeric version folders of a TF Serving model folder that hold a SavedModel, sorted."""
    if not os.path.isdir(model_dir):
        return []
    versions = []
    for entry in os.listdir(model_dir):
        path = os.path.join(model_dir, entry)
        if _VERSION.match(entry) and os.path.isfile(os.path.join(path, "saved_model.pb")):
            versions.append(int(entry))
    return sorted(versions)


def resolve_export_dir(out):
    """`saved_models/NAME/VERSION` as given, or `saved_models/NAME` -> the next free version."""
    out = os.fspath(out).rstrip("/\\") or os.fspath(out)
    if _VERSION.match(os.path.basename(out)):
        if int(os.path.basename(out)) < 1:
            raise ValueError(f"TF Serving versions are positive integers; got {out}")
        return out
    taken = [int(e) for e in os.listdir(out) if _VERSION.match(e)] if os.path.isdir(out) else []
    return os.path.join(out, str(max(taken, default=0) + 1))


def export_saved_model(model, export_dir, fusion=None, overwrite=False):
    """Writes `model` as a TF Serving SavedModel with the signatures of this module.

    Args:
        model: a built `COSNet`.
        export_dir: `saved_models/NAME/VERSION` (TF Serving's layout: VERSION
            a positive integer), or `saved_models/NAME` to write the next
            version (latest + 1, or 1).
        fusion: how N references are fused: "attention" (Eq. 13),
            "prediction" or "joint"; None: the model's own (`reference_fusion`).
        overwrite: replace an existing version folder.

    The version folder appears atomically (written beside it under a hidden
    name, then renamed), so a TF Serving instance polling the model folder
    never loads half a model.

    Returns:
        The version folder written.
    """
    fusion = fusion or getattr(model, "reference_fusion", "attention")
    if fusion not in FUSIONS:
        raise ValueError(f"Unknown fusion {fusion!r}; expected one of {FUSIONS}.")
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError("SavedModel export needs the TensorFlow backend (KERAS_BACKEND=tensorflow).")
    export_dir = resolve_export_dir(export_dir)
    if os.path.exists(export_dir) and not overwrite:
        raise ValueError(
            f"{export_dir} already exists; pick the next version number or pass overwrite=True (--overwrite)."
        )
    parent = os.path.dirname(os.path.abspath(export_dir))
    os.makedirs(parent, exist_ok=True)

    functions = _Signatures(model, fusion)
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, signature in functions.input_signatures().items():
        archive.add_endpoint(name, getattr(functions, name), input_signature=signature)

    tmp = tempfile.mkdtemp(prefix=".tmp-export-", dir=parent)  # not numeric: TF Serving ignores it
    try:
        written = os.path.join(tmp, "saved_model")
        archive.write_out(written, verbose=False)
        old = None
        if os.path.exists(export_dir):
            old = os.path.join(tmp, "old")
            os.rename(export_dir, old)
        os.rename(written, export_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return export_dir
