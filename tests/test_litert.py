"""LiteRT export (`cosnet export --format litert`) and its core in the video loop (`cosnet segment --model DIR`)."""
import json
import os
import sys

import numpy as np
import pytest
from PIL import Image

from cosnet_tf.cli.main import main
from tests.conftest import conv_backbone, tiny_cosnet

# Its module fixture converts a model twice: the whole file on one xdist worker.
pytestmark = pytest.mark.xdist_group("litert")

INFERENCE_SIZE = (64, 96)
FRAME_SIZE = (50, 84)  # not the model's: encode resizes inside, segment resizes back
REFS = 2


def _frames(count, seed=3):
    # Textured frames (no flat probability regions, so no ties at a threshold) with a bright square moving.
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 60, (count, *FRAME_SIZE, 3), dtype=np.uint8)
    for t in range(count):
        frames[t, 10 + t : 35 + t, 20 + 2 * t : 55 + 2 * t] += 160
    return frames


def _iou(a, b):
    union = (a | b).sum()
    return 1.0 if union == 0 else (a & b).sum() / union


def _middle_threshold(probability):
    """A threshold leaving 30-70% of the pixels above it, in the widest gap between values there (no ties)."""
    values = np.sort(probability.ravel())
    low, high = int(0.3 * values.size), int(0.7 * values.size)
    k = low + int(np.argmax(np.diff(values[low:high])))
    return (values[k] + values[k + 1]) / 2


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny model and its float32 LiteRT export."""
    import keras

    from cosnet_tf.export.litert import export_litert

    keras.utils.set_random_seed(1234)
    model = tiny_cosnet(inference_size=INFERENCE_SIZE)
    out = tmp_path_factory.mktemp("litert") / "tiny"
    assert export_litert(model, out, variants=("float32",)) == {"float32": str(out / "float32")}
    return model, out


def test_export_writes_the_two_models_and_their_description(exported):
    from cosnet_tf.export.litert import export_litert

    model, out = exported
    assert sorted(os.listdir(out)) == ["float32"]
    assert sorted(os.listdir(out / "float32")) == ["encode.tflite", "litert.json", "segment.tflite"]
    metadata = json.loads((out / "float32" / "litert.json").read_text())
    assert metadata["input_size"] == list(INFERENCE_SIZE) and metadata["fusion"] == "attention"
    assert metadata["feature_shape"] == [4, 6, model.feature_channels] and metadata["variant"] == "float32"
    with pytest.raises(ValueError, match="already exist"):  # no silent overwrite
        export_litert(model, out, variants=("float32",))
    with pytest.raises(ValueError, match="variants"):
        export_litert(model, out, variants=("int4",))


@pytest.mark.parametrize("num_references", [0, REFS])
def test_litert_masks_equal_the_keras_models(exported, num_references):
    from cosnet_tf.inference import VideoSegmenter
    from cosnet_tf.inference.litert_core import LiteRTModel, LiteRTSegmenter

    model, out = exported
    frames = _frames(4)
    keras_probabilities = VideoSegmenter(model, num_references=num_references).segment(frames)
    segmenter = LiteRTSegmenter(LiteRTModel(out), num_references=num_references)
    probabilities = segmenter.segment(frames)
    assert probabilities.shape == (4, *FRAME_SIZE) and segmenter.last_run["encoded"] == 4
    assert segmenter.last_run["input_size"] == INFERENCE_SIZE
    np.testing.assert_allclose(probabilities, keras_probabilities, atol=1e-3)
    for litert, keras_ in zip(probabilities, keras_probabilities):
        clear = np.abs(keras_ - 0.5) > 1e-3  # pixels float32 noise cannot move across 0.5
        assert _iou((litert > 0.5) & clear, (keras_ > 0.5) & clear) >= 0.999
        # An untrained model's 0.5-masks may be empty or full: also split each frame near its median.
        threshold = _middle_threshold(keras_)
        assert 0.3 <= (keras_ > threshold).mean() <= 0.7
        assert _iou(litert > threshold, keras_ > threshold) >= 0.999


def _write_frames(folder, frames):
    folder.mkdir()
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{index:05d}.png")
    return folder


def _read_masks(folder, count):
    return np.stack([np.asarray(Image.open(folder / f"{i:05d}.png")) > 0 for i in range(count)])


def test_segment_command_runs_a_litert_export(exported, tmp_path):
    from cosnet_tf.inference import VideoSegmenter

    model, out = exported
    frames = _frames(4)
    frame_dir = _write_frames(tmp_path / "frames", frames)
    keras_masks = VideoSegmenter(model, num_references=REFS).segment(frames) > 0.5
    for name, spec in (("folder", out), ("file", out / "float32" / "encode.tflite")):
        assert main(["segment", str(frame_dir), "--out", str(tmp_path / name), "--model", str(spec),
                     "--refs", str(REFS), "--quiet"]) == 0
        assert _iou(_read_masks(tmp_path / name, 4), keras_masks) >= 0.999


@pytest.mark.slow
def test_export_command_writes_float32_and_a_half_size_float16(tmp_path, capsys):
    import keras

    keras.utils.set_random_seed(1234)
    # The command's two variants, on a small network (the fixture's export converts MobileNetV2).
    model = tiny_cosnet(inference_size=INFERENCE_SIZE, backbone=conv_backbone(channels=64))
    model.save(tmp_path / "tiny.keras")
    out = tmp_path / "tiny"
    assert main(["export", "--model", str(tmp_path / "tiny.keras"), "--format", "litert", "--out", str(out)]) == 0
    assert "input 64x96" in capsys.readouterr().out
    sizes = {variant: sum(os.path.getsize(out / variant / f) for f in ("encode.tflite", "segment.tflite"))
             for variant in ("float32", "float16")}
    assert sizes["float16"] < 0.6 * sizes["float32"]
    frame_dir = _write_frames(tmp_path / "frames", _frames(4))
    masks = {}
    for name, spec in (("keras", tmp_path / "tiny.keras"), ("float32", out), ("float16", out / "float16")):
        assert main(["segment", str(frame_dir), "--out", str(tmp_path / name), "--model", str(spec),
                     "--refs", str(REFS), "--quiet"]) == 0
        masks[name] = _read_masks(tmp_path / name, 4)
    assert _iou(masks["float32"], masks["keras"]) >= 0.999
    assert _iou(masks["float16"], masks["keras"]) >= 0.98


def test_what_the_export_fixed_cannot_be_changed_at_run_time(exported):
    from cosnet_tf.cli.segment_command import load_model
    from cosnet_tf.inference.litert_core import LiteRTModel, LiteRTSegmenter

    model = LiteRTModel(exported[1])
    with pytest.raises(ValueError, match="fusion='attention'"):
        LiteRTSegmenter(model, fusion="prediction")
    with pytest.raises(ValueError, match="fixed input size"):
        LiteRTSegmenter(model, input_size=(32, 32))
    with pytest.raises(ValueError, match="reference_pool"):
        LiteRTSegmenter(model, reference_pool=2)
    with pytest.raises(ValueError, match="only `cosnet segment`"):
        load_model(str(exported[1]), command="export")
    with pytest.raises(FileNotFoundError, match="litert.json"):
        LiteRTModel(exported[1].parent)


def test_the_interpreter_needs_the_litert_extra(monkeypatch, tmp_path):
    from cosnet_tf.inference.litert_core import LiteRTModel

    for name in list(sys.modules):
        if name == "ai_edge_litert" or name.startswith("ai_edge_litert."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # `import ai_edge_litert` now fails
    with pytest.raises(ImportError, match=r"LiteRT model.*needs the 'litert' extra: pip install "
                                          r"\"cosnet-tf\[litert\]\" \(or pip install ai-edge-litert"):
        LiteRTModel(tmp_path / "model.tflite")


def test_cli_offers_the_exporters_variants():
    from cosnet_tf.cli.export_command import LITERT_VARIANTS as CLI_VARIANTS
    from cosnet_tf.export.litert import LITERT_VARIANTS

    assert CLI_VARIANTS == LITERT_VARIANTS
