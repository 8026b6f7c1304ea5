"""`explain_frame` / `cosnet explain`: one frame's masks, gate and attention maps as arrays and a PNG."""
import json

import numpy as np
import pytest
from PIL import Image

from cosnet_tf.data import RecurrenceVideoGenerator
from cosnet_tf.inference import explain_frame, render_explanation_sheet
from tests.conftest import REORDERED_FLOAT32_ATOL, conv_backbone, tiny_cosnet


@pytest.fixture(scope="module")
def video():
    return RecurrenceVideoGenerator(1, 6, (64, 80), seed=2).render_sequence(0).frames


def test_explanation_arrays(video):
    model = tiny_cosnet("vanilla", backbone=conv_backbone(), coattention_config={"cosine": True})
    result = explain_frame(model, video, frame_index=2, num_references=3, query_points=[[10, 20], [40, 70]])
    assert result.reference_indices == [1, 3, 5]  # uniform sampling over 6 frames
    np.testing.assert_array_equal(result.query_frame, video[2])
    np.testing.assert_array_equal(result.reference_frames, video[[1, 3, 5]])
    assert result.probability_without.shape == result.probability_with.shape == (64, 80)
    h, w = result.feature_size
    assert result.gate_confidence.shape == (3, h, w)
    assert ((result.gate_confidence > 0) & (result.gate_confidence < 1)).all()
    assert result.attention.shape == (2, 3, h, w)
    # Each query point's attention over each reference's positions is a distribution (Eq. 6).
    np.testing.assert_allclose(result.attention.sum(axis=(2, 3)), 1.0, atol=1e-4)
    # The maps are the layer's softmax rows for the points' feature positions.
    features = model.encode(video[[2, 1]].astype("float32"))
    rows = np.asarray(model.coattention.attention(features[:1], features[1:]))[0]
    row, col = int((10 + 0.5) * h / 64), int((20 + 0.5) * w / 80)
    np.testing.assert_allclose(result.attention[0, 0].reshape(-1), rows[row * w + col],
                               atol=REORDERED_FLOAT32_ATOL)


def test_explanation_errors(video):
    with pytest.raises(ValueError, match="coattention=None"):
        explain_frame(tiny_cosnet(None, backbone=conv_backbone()), video, 0)
    model = tiny_cosnet("vanilla", backbone=conv_backbone())
    with pytest.raises(ValueError, match="out of range"):
        explain_frame(model, video, 6)
    with pytest.raises(ValueError, match="num_references"):
        explain_frame(model, video, 0, num_references=0)
    with pytest.raises(ValueError, match="outside the 64x80 frame"):
        explain_frame(model, video, 0, query_points=[[64, 3]])


def test_sheet_and_cli(video, tmp_path, capsys):
    from cosnet_tf.cli.main import main

    model = tiny_cosnet("vanilla", backbone=conv_backbone())
    sheet = render_explanation_sheet(explain_frame(model, video, 1, num_references=2), tmp_path / "sheet.png")
    assert Image.open(sheet).size[0] > 400
    frames = tmp_path / "frames"
    frames.mkdir()
    for t, frame in enumerate(video):
        Image.fromarray(frame).save(frames / f"{t:05d}.png")
    model_path = tmp_path / "model.keras"
    model.save(model_path)
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["explain", str(frames), "--frame", "4", "--refs", "3", "--out", str(out),
                 "--model", str(model_path), "--point", "5", "6"]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[0])
    assert summary["references"] == [1, 3, 5] and summary["query_points"] == [[5, 6]]
    image = Image.open(out / "frame_00004.png")
    assert image.size[0] > 400 and image.mode in ("RGB", "RGBA")
    arrays = np.load(out / "frame_00004.npz")
    np.testing.assert_allclose(arrays["attention"].sum(axis=(2, 3)), 1.0, atol=1e-4)
