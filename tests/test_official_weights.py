"""The port of the authors' checkpoint: golden outputs, mapping, errors, CLI."""
import subprocess
import sys

import numpy as np
import pytest

from cosnet_tf import COSNet
from cosnet_tf.conversion import load_official_weights, official_weight_map
from tests.conftest import REPO_ROOT, load_script, shared_path

# Its module fixtures are costly: the whole file on one xdist worker (pytest.ini: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("official_weights")


def _official_state_dict():
    module = load_script(shared_path("reference", "golden", "make_weights.py"))
    return module.official_state_dict(str(shared_path("reference", "official-cosnet-checkpoint.tsv")))


@pytest.fixture(scope="module")
def official():
    state = _official_state_dict()
    model = COSNet.from_preset("resnet101_official")
    load_official_weights(model, state)
    return model, state


def _nhwc(x):
    return np.transpose(x, (0, 2, 3, 1))


@pytest.mark.parametrize("golden", ["official_forward_97x129.npz", "official_forward_96x128.npz"])
def test_reproduces_the_authors_outputs(official, golden):
    model, _ = official
    data = np.load(shared_path("reference", "golden", golden))
    rgb_a = data["rgb_a"][None].astype("float32")
    rgb_b = data["rgb_b"][None].astype("float32")
    # Preprocessing inside the model equals the authors' loader.
    pre = model.backbone.get_layer("preprocessing")
    np.testing.assert_allclose(_nhwc(data["input_a_bgr_minus_mean_nchw"]), pre(rgb_a), atol=1e-4)
    np.testing.assert_allclose(model.encode(rgb_a), _nhwc(data["features_a_nchw"]), atol=1e-4)
    np.testing.assert_allclose(model.encode(rgb_b), _nhwc(data["features_b_nchw"]), atol=1e-4)
    out = model({"frame_a": rgb_a, "frame_b": rgb_b})
    for key in ("saliency_a", "saliency_b", "pred_a", "pred_b"):
        np.testing.assert_allclose(out[key], _nhwc(data[key]), atol=1e-4, err_msg=key)
    # The cached path gives the same query prediction.
    cached = model.segment(
        model.encode(rgb_a), model.encode(rgb_b)[None], output_size=rgb_a.shape[1:3]
    )
    np.testing.assert_allclose(cached, _nhwc(data["pred_a"]), atol=1e-4)


def test_every_checkpoint_tensor_is_accounted_for(official):
    model, state = official
    mapping = official_weight_map(model)
    floats = {k for k in state if not k.endswith("num_batches_tracked")}
    assert set(mapping) == floats
    # Every weight of the model receives exactly one tensor.
    assert len({id(v) for v, _ in mapping.values()}) == len(model.weights) == len(mapping)


def test_errors_name_the_tensors(official):
    model, state = official
    broken = dict(state)
    broken["encoder.layer9.weight"] = np.zeros(3, "float32")
    del broken["linear_e.weight"]
    broken["gate.weight"] = np.zeros((1, 128, 1, 1), "float32")
    with pytest.raises(ValueError) as info:
        load_official_weights(model, broken)
    message = str(info.value)
    assert "encoder.layer9.weight" in message
    assert "linear_e.weight" in message
    assert "gate.weight" in message
    with pytest.raises(ValueError, match="vanilla"):
        load_official_weights(COSNet.from_preset("mobilenetv2", coattention="symmetric"), state)
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_official_weights(model, "missing.pth")


def test_npz_source_and_module_prefix(official, tmp_path):
    model, state = official
    path = tmp_path / "weights.npz"
    # nn.DataParallel checkpoints carry a "module." prefix.
    np.savez(path, **{f"module.{k}": v for k, v in state.items()})
    fresh = COSNet.from_preset("resnet101_official")
    load_official_weights(fresh, path)
    for a, b in zip(fresh.weights, model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.slow  # the converter in a subprocess on the full checkpoint
def test_convert_weights_cli(official, tmp_path):
    model, state = official
    source = tmp_path / "weights.npz"
    np.savez(source, **state)
    out = tmp_path / "cosnet_official.keras"
    result = subprocess.run(
        [sys.executable, "-m", "cosnet_tf.cli.main", "convert-weights", str(source), str(out)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    restored = COSNet.from_preset(str(out))
    for a, b in zip(restored.weights, model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    bad = subprocess.run(
        [sys.executable, "-m", "cosnet_tf.cli.main", "convert-weights", str(tmp_path / "nope.npz"), str(out)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert bad.returncode != 0 and "nope.npz" in bad.stderr
