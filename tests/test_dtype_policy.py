"""dtype_policy = "auto": bf16 where the hardware computes it natively, float32 elsewhere."""
import dataclasses
import json

import keras
import pytest

from cosnet_tf.data import SyntheticVideoGenerator
from cosnet_tf.training.run_config import TrainConfig
from cosnet_tf.utils import dtype_policy
from cosnet_tf.utils.dtype_policy import cpu_flags, emulated_bf16_warning, resolve_dtype_policy
from tests.conftest import TINY_BACKBONE


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse avx512f avx512_bf16\n\n"
                       "processor\t: 1\nflags\t\t: fpu sse avx512f avx512_bf16\n")
    assert cpu_flags(str(cpuinfo)) == {"fpu", "sse", "avx512f", "avx512_bf16"}
    assert cpu_flags(str(tmp_path / "absent")) == set()  # not Linux: no flags, so float32


@pytest.mark.parametrize("flags, gpus, expected", [
    ({"avx2", "amx_bf16"}, [], "mixed_bfloat16"),
    ({"avx2", "avx512_bf16"}, [], "mixed_bfloat16"),
    ({"avx2", "avx512f"}, [], "float32"),  # AVX-512 without its BF16 instructions emulates bf16
    (set(), [], "float32"),
    ({"avx512_bf16"}, [(8, 0), (9, 0)], "mixed_bfloat16"),
    ({"avx512_bf16"}, [(8, 6), (7, 5)], "float32"),  # the GPUs decide, and the oldest one
])
def test_auto_picks_bf16_only_on_native_hardware(flags, gpus, expected):
    policy, why = resolve_dtype_policy("auto", flags=flags, gpu_capabilities=gpus)
    assert policy == expected and why


def test_explicit_policies_pass_through():
    for name in ("float32", "mixed_bfloat16"):
        assert resolve_dtype_policy(name, flags={"avx512_bf16"}, gpu_capabilities=[])[0] == name


@pytest.mark.parametrize("name, flags, gpus, warns", [
    ("mixed_bfloat16", {"avx2"}, [], True),
    ("mixed_bfloat16", {"avx2", "avx512f"}, [], True),
    ("mixed_bfloat16", set(), [(7, 5)], True),
    ("mixed_bfloat16", {"avx512_bf16"}, [], False),
    ("mixed_bfloat16", {"amx_bf16"}, [], False),
    ("mixed_bfloat16", set(), [(8, 0)], False),
    ("float32", {"avx2"}, [], False),
])
def test_explicit_bf16_warns_only_where_it_is_emulated(name, flags, gpus, warns):
    """`cosnet train` with dtype_policy = "mixed_bfloat16" set by hand warns where bf16 would be
    emulated (slower than float32), and says what to set instead."""
    warning = emulated_bf16_warning(name, flags=flags, gpu_capabilities=gpus)
    assert (warning is not None) == warns
    if warns:
        assert "emulated" in warning and '"auto"' in warning


def _fake_machine(monkeypatch, flags):
    monkeypatch.setattr(dtype_policy, "cpu_flags", lambda: set(flags))
    monkeypatch.setattr(dtype_policy, "gpu_compute_capabilities", lambda: [])


def _config(tmp_path, **settings):
    return TrainConfig(out=str(tmp_path / "run"), davis_root=str(tmp_path / "davis"),
                       model=dict(coattention="vanilla", backbone_config=TINY_BACKBONE), input_size=(48, 48),
                       batch_size=2, image_steps=0, optimizer="adamw", learning_rate=1e-3,
                       dtype_policy="auto", **settings)


@pytest.mark.parametrize("flags, compute_dtype", [({"avx512_bf16"}, "bfloat16"), ({"avx2"}, "float32")])
def test_auto_builds_the_trainer_in_what_this_machine_runs(tmp_path, monkeypatch, flags, compute_dtype):
    from cosnet_tf.training.run import build_trainer

    _fake_machine(monkeypatch, flags)
    trainer = build_trainer(_config(tmp_path))
    assert trainer.backbone.compute_dtype == compute_dtype and trainer.head_a.compute_dtype == compute_dtype
    assert keras.config.dtype_policy().name == "float32"


def test_a_trainer_forced_to_emulated_bf16_warns(tmp_path, monkeypatch):
    """The trainer that `cosnet train` and each `cosnet tune` trial build warns when set to
    mixed_bfloat16 on a machine without native bf16, and still computes in what it was told."""
    from cosnet_tf.training.run import build_trainer

    _fake_machine(monkeypatch, {"avx2"})
    with pytest.warns(UserWarning, match="bf16 is emulated"):
        trainer = build_trainer(dataclasses.replace(_config(tmp_path), dtype_policy="mixed_bfloat16"))
    assert trainer.backbone.compute_dtype == "bfloat16"


@pytest.mark.slow  # a one-step training run
def test_auto_run_says_and_records_what_it_trained_in(tmp_path, monkeypatch, capsys):
    """A run with `dtype_policy = "auto"` prints the policy it resolved and why, and config.json
    records the resolved policy; the saved model computes in float32."""
    from cosnet_tf.training.run import train

    _fake_machine(monkeypatch, {"avx512_bf16"})
    SyntheticVideoGenerator(num_sequences=2, num_frames=4, image_size=(48, 48), seed=0,
                            num_val_sequences=1).write_davis(tmp_path / "davis")
    train(_config(tmp_path, steps=1, checkpoint_every=1, val_batches=1, verbose=1, run_eagerly=True))
    assert "dtype policy auto: mixed_bfloat16 (the CPU has avx512_bf16)" in capsys.readouterr().out
    assert json.loads((tmp_path / "run" / "config.json").read_text())["dtype_policy"] == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "float32"
    assert keras.saving.load_model(tmp_path / "run" / "final.keras").compute_dtype == "float32"


@pytest.mark.slow  # a one-step training run
def test_forced_bf16_run_warns_where_it_is_emulated(tmp_path, monkeypatch):
    """`train` with dtype_policy = "mixed_bfloat16" on a machine without native bf16 warns,
    still trains in what it was told, and records it."""
    from cosnet_tf.training.run import train

    _fake_machine(monkeypatch, {"avx2"})
    SyntheticVideoGenerator(num_sequences=2, num_frames=4, image_size=(48, 48), seed=0,
                            num_val_sequences=1).write_davis(tmp_path / "davis")
    config = _config(tmp_path, steps=1, checkpoint_every=1, val_batches=1, verbose=0, run_eagerly=True)
    with pytest.warns(UserWarning, match="bf16 is emulated"):
        train(dataclasses.replace(config, dtype_policy="mixed_bfloat16"))
    assert json.loads((tmp_path / "run" / "config.json").read_text())["dtype_policy"] == "mixed_bfloat16"
