"""The two-line Python API: cosnet_tf.load_model() and cosnet_tf.segment_video()."""
import numpy as np
import pytest

import cosnet_tf
from cosnet_tf.inference import VideoSegmenter
from cosnet_tf.models import shipped
from tests.conftest import REPO_ROOT, conv_backbone, tiny_cosnet


def test_segment_video_gives_the_masks_of_the_video_segmenter():
    model = tiny_cosnet(backbone=conv_backbone())
    video = np.random.default_rng(1).integers(0, 255, (5, 40, 72, 3), dtype=np.uint8)
    masks = cosnet_tf.segment_video(video, model, num_references=2, short_side=32)
    expected = VideoSegmenter(model, num_references=2, short_side=32).segment(video) > 0.5
    assert masks.shape == (5, 40, 72) and masks.dtype == np.uint8
    np.testing.assert_array_equal(masks, np.where(expected, 255, 0))


def test_segment_video_rejects_an_empty_video():
    with pytest.raises(ValueError, match="no frames|empty|0 frames"):
        cosnet_tf.segment_video(np.zeros((0, 32, 32, 3), np.uint8), tiny_cosnet(backbone=conv_backbone()))


def test_load_model_reads_a_saved_model(tmp_path):
    path = tmp_path / "m.keras"
    tiny_cosnet(backbone=conv_backbone(), inference_short_side=48).save(path)
    model = cosnet_tf.load_model(str(path))
    assert isinstance(model, cosnet_tf.COSNet) and model.inference_short_side == 48


def test_a_missing_shipped_model_names_where_it_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="no-such.keras does not exist.*cosnet train --config"):
        shipped.shipped_model_path("saved_models/no-such.keras")


def test_the_shipped_model_is_found_from_any_directory(tmp_path, monkeypatch):
    if not (REPO_ROOT / shipped.SHIPPED_MODEL).exists():
        pytest.fail(f"the shipped model {shipped.SHIPPED_MODEL} is missing from the repository")
    monkeypatch.chdir(tmp_path)
    assert shipped.shipped_model_path() == str(REPO_ROOT / shipped.SHIPPED_MODEL)


@pytest.mark.parametrize("model_path, config_path", [
    (shipped.SHIPPED_MODEL, shipped.TRAINING_CONFIG),
    (shipped.NO_COATTENTION_MODEL, shipped.NO_COATTENTION_TRAINING_CONFIG),
])
def test_each_shipped_model_is_the_network_its_config_trains(model_path, config_path):
    from cosnet_tf.training.run_config import TrainConfig

    config = TrainConfig.from_file(REPO_ROOT / config_path)
    settings = dict(config.model)
    settings.pop("backbone_weights", None)  # the initialisation, not the network
    built = cosnet_tf.COSNet.from_preset(settings.pop("preset"), inference_size=config.input_size,
                                         inference_short_side=config.short_side, **settings)
    ours, theirs = built.get_config(), cosnet_tf.load_model(str(REPO_ROOT / model_path)).get_config()
    differing = {k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k)} - {"name"}
    assert not differing, {k: (ours.get(k), theirs.get(k)) for k in differing}


def test_the_shipped_models_load_with_their_card_settings():
    default = cosnet_tf.load_model()
    assert default.coattention_variant == "vanilla" and default.coattention_config.get("cosine") is True
    assert default.coattention_config.get("recurrence_gate") is True
    assert default.inference_short_side == 320
    twin = cosnet_tf.load_model(shipped.NO_COATTENTION_MODEL)
    assert twin.coattention is None and twin.inference_short_side == 320
    for model in (default, twin):  # block 12 for the co-attention, block 2 for the decoder (the card)
        assert (model.backbone.mid_level_block, model.backbone.low_level_block) == (12, 2)
    for path in shipped.SHIPPED_FILES:
        size = (REPO_ROOT / path).stat().st_size
        assert size < 25e6, f"{path} is {size / 1e6:.1f} MB"
    assert (REPO_ROOT / "saved_models" / "cosnet_mobilenetv2_davis.md").exists()


def test_the_trained_presets_load_the_shipped_models():
    from cosnet_tf.models.presets import TRAINED_PRESETS

    assert set(TRAINED_PRESETS) == {"cosnet_mobilenetv2_davis", "cosnet_mobilenetv2_davis_none"}
    default = cosnet_tf.COSNet.from_preset("cosnet_mobilenetv2_davis")
    shipped_default = cosnet_tf.load_model()
    for ours, theirs in zip(default.weights, shipped_default.weights):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    twin = cosnet_tf.COSNet.from_preset("cosnet_mobilenetv2_davis_none")
    assert twin.coattention is None and default.coattention_variant == "vanilla"
    with pytest.raises(ValueError, match="takes no overrides"):
        cosnet_tf.COSNet.from_preset("cosnet_mobilenetv2_davis", coattention="symmetric")


def test_architecture_presets_say_they_are_untrained_and_name_the_trained_ones():
    from cosnet_tf.models.presets import PRESETS, preset_config

    assert set(PRESETS) == {"mobilenetv2", "resnet50", "resnet101_official"}
    for name, preset in PRESETS.items():
        assert preset["description"].startswith("Untrained architecture"), name
    with pytest.raises(ValueError, match="'cosnet_mobilenetv2_davis' is a trained preset"):
        preset_config("cosnet_mobilenetv2_davis")
    with pytest.raises(ValueError, match=r"Unknown COSNet preset 'vgg16'.*davis_none.*architectures.*mobilenetv2"):
        cosnet_tf.COSNet.from_preset("vgg16")


def test_an_installed_package_finds_its_own_models_first(tmp_path, monkeypatch):
    from cosnet_tf.models.presets import trained_preset_path

    installed = tmp_path / "site" / "cosnet_tf" / "saved_models"
    installed.mkdir(parents=True)
    (installed / "cosnet_mobilenetv2_davis.keras").write_bytes(b"PK")
    monkeypatch.setattr(shipped, "_installed_folder", lambda: str(installed))
    assert shipped.shipped_model_path() == str(installed / "cosnet_mobilenetv2_davis.keras")
    assert trained_preset_path("cosnet_mobilenetv2_davis") == str(installed / "cosnet_mobilenetv2_davis.keras")
    # Not in the package data: the checkout's copy.
    twin = shipped.NO_COATTENTION_MODEL
    assert shipped.shipped_model_path(twin) == str(REPO_ROOT / twin)
    monkeypatch.setattr(shipped, "_repository_root", lambda: str(tmp_path / "elsewhere"))
    with pytest.raises(FileNotFoundError, match=r"cosnet_mobilenetv2_davis_none.keras does not exist \(looked in "
                                                r".*site.*saved_models.*elsewhere"):
        shipped.shipped_model_path(shipped.NO_COATTENTION_MODEL)
