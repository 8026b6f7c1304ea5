"""The committed configs in training/configs: each one reads, and none asks for emulated bf16."""
import pathlib

import pytest

from cosnet_tf.training.run_config import TrainConfig
from cosnet_tf.tuning.tune_config import TuneConfig

CONFIGS = sorted((pathlib.Path(__file__).resolve().parents[1] / "training" / "configs").glob("*.toml"))


def _read(path):
    # tune_*.toml are Keras Tuner searches (a [train] table inside); the rest are training runs.
    if path.name.startswith("tune_"):
        return TuneConfig.from_file(path).train
    return TrainConfig.from_file(path)


def test_the_configs_are_there():
    assert len(CONFIGS) >= 10, [path.name for path in CONFIGS]


@pytest.mark.parametrize("path", CONFIGS, ids=[path.name for path in CONFIGS])
def test_config_reads_and_never_forces_bf16(path):
    """Every setting is known and valid (bases resolved), and no config sets mixed_bfloat16 by
    hand: "auto" gives bf16 where the hardware has it, while a forced bf16 runs over twice as
    slow as float32 on a CPU that only emulates it (stop 44)."""
    config = _read(path)
    assert config.steps > 0
    assert config.dtype_policy in ("auto", "float32"), f"{path.name}: dtype_policy = {config.dtype_policy!r}"


def test_stage_3_trains_the_reference_path_at_the_size_segment_reads():
    """The shipped stage 3 (stop 45): only the reference path learns, on crops of the size a
    DAVIS frame (854x480) becomes at the model's inference short side; at stage 2's 192x352
    the same stage added nothing on the dev sequences."""
    from cosnet_tf.inference.input_size import aspect_preserving_size
    from cosnet_tf.models import shipped

    config = TrainConfig.from_file(pathlib.Path(__file__).resolve().parents[1] / shipped.TRAINING_CONFIG)
    assert config.reference_path_only and config.model.get("coattention") != "none"
    assert pathlib.Path(config.initial_weights).parts[-2:] == ("mobilenetv2_davis", "final.keras")
    assert tuple(config.image_size) == tuple(aspect_preserving_size((480, 854), config.inference_short_side))
