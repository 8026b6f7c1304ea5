"""Export a COSNet as LiteRT (TensorFlow Lite) models, run by the `ai-edge-litert` interpreter.

The two steps of video segmentation that the SavedModel's ``encode`` and
``segment_from_features`` signatures already separate, converted from those very
functions (`cosnet_tf.export.saved_model`), so the equations exist once:

==========================  ==========================================  =====================================
file                        inputs                                      outputs
==========================  ==========================================  =====================================
``encode.tflite``           ``frames``     uint8   [B, H, W, 3]         ``features`` float32 [B, h, w, C]
``segment.tflite``          ``query_features``     float32 [1, h, w, C] ``probabilities`` float32 [1, H, W]
                            ``reference_features`` float32 [N, h, w, C]
                            ``output_size``        int32   [2] = (H, W)
==========================  ==========================================  =====================================

* The model sees one fixed input size (LiteRT plans its memory for fixed
  shapes): frames of any size (B, H, W set by the interpreter's
  ``resize_tensor_input``) are resized bilinearly inside ``encode`` to it, and
  (h, w) is that size over the backbone's output stride.
* N >= 0 is dynamic (N = 0: the frame-by-frame baseline): Eq. 13's sum over the
  references is the SavedModel's loop, a LiteRT ``WHILE``.
* Fusion ("attention" or "prediction") is fixed at export time, as for the SavedModel.

Each variant is a folder with both files and ``litert.json`` (input size, feature
shape, fusion, variant), which `cosnet segment --model FOLDER` reads
(`cosnet_tf.inference.litert_core`):

* ``float32``: the Keras model's weights and arithmetic;
* ``float16``: weights stored as float16 (half the size), computed in float32.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from cosnet_tf.export.saved_model import _Signatures
from cosnet_tf.inference.input_size import resolve_input_size
from cosnet_tf.inference.litert_core import METADATA_FILE
from cosnet_tf.models.cosnet import FUSIONS

#: The variants `export_litert` writes, each into a folder of that name.
LITERT_VARIANTS = ("float32", "float16")
#: The files of one variant folder.
ENCODE_FILE, SEGMENT_FILE = "encode.tflite", "segment.tflite"
#: A frame size for `--short-side` (a LiteRT model has one input size): DAVIS 480p, 854x480.
REFERENCE_FRAME_SIZE = (480, 854)


def litert_input_size(model, input_size=None, short_side=None, frame_size=REFERENCE_FRAME_SIZE):
    """The one (height, width) a LiteRT export of `model` sees.

    An explicit ``input_size``; else the model's fixed ``inference_size``; else the size
    `cosnet segment` gives a ``frame_size`` frame (``short_side``, the model's own, or the frame's).

    Example:
        >>> class Model:
        ...     inference_size, inference_short_side = (320, 576), 320
        >>> litert_input_size(Model()), litert_input_size(Model(), short_side=240)
        ((320, 576), (240, 432))
    """
    if input_size is not None:
        return tuple(int(v) for v in input_size)
    if short_side is None and getattr(model, "inference_size", None) is not None:
        return tuple(int(v) for v in model.inference_size)
    return resolve_input_size(model, frame_size, short_side=short_side)


def _converted(saved_model_dir, signature, variant):
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=[signature])
    if variant == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def export_litert(model, out, fusion=None, input_size=None, short_side=None, variants=LITERT_VARIANTS,
                  overwrite=False):
    """Writes `model` as LiteRT models, one folder per variant under `out`.

    Args:
        model: a built `COSNet`.
        out: the folder to write (``out/float32``, ``out/float16``).
        fusion: how N references are fused: "attention" (Eq. 13), "prediction" or "joint"; None:
            the model's own (`reference_fusion`).
        input_size, short_side: the fixed input size, see `litert_input_size`.
        variants: some of `LITERT_VARIANTS`.
        overwrite: replace existing variant folders.

    Each variant folder appears atomically (written beside it, then renamed).

    Returns:
        {variant: folder written}.
    """
    fusion = fusion or getattr(model, "reference_fusion", "attention")
    if fusion not in FUSIONS:
        raise ValueError(f"Unknown fusion {fusion!r}; expected one of {FUSIONS}.")
    variants = tuple(variants)
    unknown = [v for v in variants if v not in LITERT_VARIANTS]
    if unknown or not variants:
        raise ValueError(f"Unknown LiteRT variants {unknown or variants!r}; expected some of {LITERT_VARIANTS}.")
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError("LiteRT export needs the TensorFlow backend (KERAS_BACKEND=tensorflow).")
    out = os.fspath(out)
    targets = {variant: os.path.join(out, variant) for variant in variants}
    taken = [path for path in targets.values() if os.path.exists(path)]
    if taken and not overwrite:
        raise ValueError(f"{', '.join(taken)} already exist(s); pass overwrite=True (--overwrite) to replace.")
    size = litert_input_size(model, input_size, short_side)
    os.makedirs(out, exist_ok=True)

    saved = (model.inference_size, model.inference_short_side)
    model.inference_size, model.inference_short_side = size, None  # the graphs resize frames to `size`
    tmp = tempfile.mkdtemp(prefix=".tmp-litert-", dir=out)
    try:
        feature_shape = tuple(int(v) for v in model.encode(np.zeros((1, *size, 3), np.float32)).shape[1:])
        functions = _Signatures(model, fusion)
        specs = {
            "encode": [tf.TensorSpec([None, None, None, 3], tf.uint8, name="frames")],
            "segment_from_features": [
                tf.TensorSpec([1, *feature_shape], tf.float32, name="query_features"),
                tf.TensorSpec([None, *feature_shape], tf.float32, name="reference_features"),
                tf.TensorSpec([2], tf.int32, name="output_size"),
            ],
        }
        archive = keras.export.ExportArchive()
        archive.track(model)
        for name, signature in specs.items():
            archive.add_endpoint(name, getattr(functions, name), input_signature=signature)
        # Through a SavedModel: its converter freezes the weights into the flatbuffer.
        saved_model_dir = os.path.join(tmp, "saved_model")
        archive.write_out(saved_model_dir, verbose=False)
        metadata = {
            "format": "cosnet-litert",
            "input_size": list(size),
            "feature_shape": list(feature_shape),
            "fusion": fusion,
            "coattention": model.coattention is not None,
            "encode": ENCODE_FILE,
            "segment": SEGMENT_FILE,
        }
        for variant, target in targets.items():
            folder = os.path.join(tmp, variant)
            os.makedirs(folder)
            for signature, file in (("encode", ENCODE_FILE), ("segment_from_features", SEGMENT_FILE)):
                with open(os.path.join(folder, file), "wb") as f:
                    f.write(_converted(saved_model_dir, signature, variant))
            with open(os.path.join(folder, METADATA_FILE), "w") as f:
                json.dump({**metadata, "variant": variant}, f, indent=2)
            if os.path.exists(target):
                shutil.rmtree(target)
            os.rename(folder, target)
    finally:
        model.inference_size, model.inference_short_side = saved
        shutil.rmtree(tmp, ignore_errors=True)
    return targets
