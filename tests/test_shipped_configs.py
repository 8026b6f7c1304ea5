"""The committed configs in training/configs: each one reads, none asks for emulated bf16, and the
staged configs of the shipped models hold the settings those models were trained with."""
import pathlib

import pytest

from cosnet_tf.training.run_config import TrainConfig
from cosnet_tf.training.settings_file import read_config_file
from cosnet_tf.tuning.tune_config import TuneConfig

CONFIG_DIR = pathlib.Path(__file__).resolve().parents[1] / "training" / "configs"
CONFIGS = sorted(CONFIG_DIR.glob("*.toml"))


def _stages(path):
    # tune_*.toml are Keras Tuner searches (a [train] table inside); the rest are training runs.
    if path.name.startswith("tune_"):
        return [("train", TuneConfig.from_file(path).train)]
    return TrainConfig.stages_from_dict(read_config_file(path), str(path))


def test_the_configs_are_there():
    assert len(CONFIGS) >= 8, [path.name for path in CONFIGS]


@pytest.mark.parametrize("path", CONFIGS, ids=[path.name for path in CONFIGS])
def test_config_reads_and_never_forces_bf16(path):
    """Every setting of every stage is known and valid (bases resolved), and no config sets
    mixed_bfloat16 by hand: "auto" gives bf16 where the hardware has it, while a forced bf16 runs
    slower than float32 on a CPU that only emulates it (docs/research-log.md)."""
    for name, config in _stages(path):
        assert config.steps > 0
        assert config.dtype_policy in ("auto", "float32"), f"{path.name} {name}: {config.dtype_policy!r}"


# The settings the shipped models were trained with, stage by stage, as literal values: the
# staged configs must keep them, so that one command reproduces the shipped .keras files.
_FIRST_STAGE = {
    "davis_root": "../shared/data/davis2016-train", "train_sequences": None, "val_sequences": None,
    "train_split": "train", "val_split": "", "val_davis_root": None, "saliency_images": None,
    "saliency_masks": None, "stills_from_training_videos": False, "composite_stills": "off",
    "model": {"coattention": "vanilla", "coattention_config": {"cosine": True, "recurrence_gate": True},
              "backbone_config": {"mid_level_block": 12, "low_level_block": 2, "output_stride": 16},
              "preset": "mobilenetv2",
              "backbone_weights": "../shared/weights/deeplabv3_mobilenetv2_1.0_pascal_byname.h5"},
    "input_size": (192, 352), "short_side": 320, "batch_size": 4, "steps": 1000, "checkpoint_every": 100,
    "val_batches": None, "learning_rate": 0.001, "optimizer": "adamw", "momentum": 0.9, "weight_decay": 0.0001,
    "decay_power": 0.9, "head_lr_multiplier": 1.0, "summary_dropout": 0.2, "query_feature_dropout": 0.0,
    "reference_path_only": False, "training_references": 3, "class_balance": 0.0, "dice_weight": 0.0,
    "paste_distractors": 0.0, "augmentation": {}, "video_steps": 2, "image_steps": 0,
    "freeze_backbone_batch_norm": True, "freeze_backbone": True, "frozen_backbone_blocks": 0,
    "strategy": "auto", "devices": None, "synchronized_batch_norm": False, "dtype_policy": "auto",
    "run_eagerly": False, "seed": 0, "verbose": 2, "benchmark": None, "video_eval_refs": None,
}
_WHOLE_NETWORK = dict(_FIRST_STAGE, batch_size=2, steps=2400, learning_rate=0.0001, summary_dropout=0.0,
                      freeze_backbone=False)
_REFERENCE_PATH = dict(_WHOLE_NETWORK, input_size=(320, 576), steps=600, learning_rate=0.001,
                       reference_path_only=True, dtype_policy="float32", seed=1)
_NONE = {"preset": "mobilenetv2", "coattention": None,
         "backbone_config": {"mid_level_block": 12, "low_level_block": 2, "output_stride": 16},
         "backbone_weights": "../shared/weights/deeplabv3_mobilenetv2_1.0_pascal_byname.h5"}
SHIPPED_STAGES = {
    "cosnet_mobilenetv2_davis.toml": [
        ("frozen-backbone", _FIRST_STAGE), ("whole-network", _WHOLE_NETWORK), ("reference-path", _REFERENCE_PATH)],
    "cosnet_mobilenetv2_davis_none.toml": [
        ("frozen-backbone", dict(_FIRST_STAGE, model=_NONE)), ("whole-network", dict(_WHOLE_NETWORK, model=_NONE))],
}


@pytest.mark.parametrize("name", sorted(SHIPPED_STAGES))
def test_staged_shipped_configs_keep_the_shipped_settings(name):
    stages = TrainConfig.stages_from_dict(read_config_file(CONFIG_DIR / name), name)
    assert [stage for stage, _ in stages] == [stage for stage, _ in SHIPPED_STAGES[name]]
    out = pathlib.Path("runs") / name.removesuffix(".toml")
    previous = None
    for (stage, config), (_, expected) in zip(stages, SHIPPED_STAGES[name]):
        settings = config.to_dict()
        # Each stage writes its own folder and starts from the previous stage's model.
        assert pathlib.Path(settings.pop("out")) == out / stage
        weights = settings.pop("initial_weights")
        assert (weights is None) if previous is None else (pathlib.Path(weights) == out / previous / "final.keras")
        assert settings == expected, {k: (settings.get(k), v) for k, v in expected.items() if settings.get(k) != v}
        previous = stage


def test_last_stage_trains_the_reference_path_at_the_size_segment_reads():
    """The shipped model's last stage: only the reference path learns, on crops of the size a
    DAVIS frame (854x480) becomes at the model's inference short side. A staged file read as one
    config is its last stage, the one that makes the final model."""
    from cosnet_tf.inference.input_size import aspect_preserving_size

    config = TrainConfig.from_file(CONFIG_DIR / "cosnet_mobilenetv2_davis.toml")
    assert config == TrainConfig.from_file(CONFIG_DIR / "cosnet_mobilenetv2_davis.toml", stage="reference-path")
    assert config.reference_path_only and config.model.get("coattention") != "none"
    assert pathlib.Path(config.initial_weights).parts[-2:] == ("whole-network", "final.keras")
    assert tuple(config.input_size) == tuple(aspect_preserving_size((480, 854), config.short_side))
