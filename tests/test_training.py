"""The alternating trainer, stream mixing and resumable training runs."""
import dataclasses
import filecmp
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from cosnet_tf.data import (
    DavisDataset,
    SaliencyDataset,
    SyntheticVideoGenerator,
    make_composite_dataset,
    make_frame_pair_dataset,
    make_saliency_dataset,
)
from cosnet_tf.training import IMAGE_STREAM, VIDEO_STREAM, COSNetTrainer, PartwiseAdamW, mix_streams
from cosnet_tf.losses import orthogonality_penalty
from cosnet_tf.training.callbacks import NaNGuard
from cosnet_tf.training.run import build_datasets
from cosnet_tf.training.run_config import TrainConfig
from tests.conftest import REPO_ROOT, TINY_BACKBONE, conv_backbone, tiny_backbone


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    gen = SyntheticVideoGenerator(num_sequences=4, num_frames=6, image_size=(64, 64), seed=3, num_val_sequences=1)
    davis = gen.write_davis(root / "davis")
    images, masks = gen.write_saliency(root / "saliency", num_images=6)
    return davis, images, masks


def _streams(synthetic, video_steps=2, image_steps=1):
    davis, images, masks = synthetic
    pairs = make_frame_pair_dataset(DavisDataset(davis, split="train"), (48, 48), batch_size=2, seed=0)
    stills = make_saliency_dataset(SaliencyDataset(images, masks), (48, 48), batch_size=2, seed=0)
    return mix_streams(pairs, stills, video_steps, image_steps)


def _snapshot(layers):
    return [w.numpy().copy() for layer in layers for w in layer.trainable_weights]


def _changed(before, after):
    return any(not np.array_equal(a, b) for a, b in zip(before, after))


def _compile_eager(model, optimizer):
    # Which weights a step moves is the same eagerly; tracing a step costs more than these tests.
    # The compiled steps of every option: test_every_training_option_traces_in_graph_mode (slow).
    model.compile(optimizer=optimizer, run_eagerly=True)


def test_mix_streams_follows_the_pattern(synthetic):
    streams = [int(x["stream"][0]) for x, _ in _streams(synthetic, 2, 1).take(9)]
    assert streams == [VIDEO_STREAM, VIDEO_STREAM, IMAGE_STREAM] * 3
    with pytest.raises(ValueError, match="video_steps"):
        mix_streams(None, None, video_steps=0)


@pytest.mark.parametrize("variant", ["vanilla", pytest.param("symmetric", marks=pytest.mark.slow),
                                     pytest.param("channel", marks=pytest.mark.slow)])
def test_image_step_trains_only_backbone_and_side_output(synthetic, variant):
    model = COSNetTrainer(conv_backbone(), coattention=variant, head_filters=16)
    _compile_eager(model, keras.optimizers.SGD(0.05, momentum=0.9, weight_decay=1e-4))
    head_parts = [model.coattention, model.gate, model.head_a, model.head_b]
    seen = set()
    for x, y in _streams(synthetic).take(3):
        stream = int(x["stream"][0])
        heads, backbone, side = _snapshot(head_parts), _snapshot([model.backbone]), _snapshot([model.saliency_head])
        model.train_on_batch(x, y)
        if stream == IMAGE_STREAM:
            assert not _changed(heads, _snapshot(head_parts)), "an image step moved co-attention/heads"
            assert _changed(side, _snapshot([model.saliency_head]))
        else:
            assert _changed(heads, _snapshot(head_parts)), "a video step left co-attention/heads unchanged"
            assert not _changed(side, _snapshot([model.saliency_head]))
        assert _changed(backbone, _snapshot([model.backbone]))
        seen.add(stream)
    assert seen == {IMAGE_STREAM, VIDEO_STREAM}
    assert int(model.optimizer.iterations.numpy()) == 3


def test_frozen_backbone_trains_only_coattention_and_heads(synthetic, tmp_path):
    model = COSNetTrainer(tiny_backbone(), coattention="vanilla", head_filters=16, freeze_backbone=True)
    _compile_eager(model, keras.optimizers.AdamW(0.01))
    head_parts = [model.coattention, model.gate, model.head_a, model.head_b]
    backbone = [w.numpy().copy() for w in model.backbone.weights]  # batch-norm statistics included
    heads = _snapshot(head_parts)
    for x, y in _streams(synthetic).take(3):
        model.train_on_batch(x, y)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(backbone, model.backbone.weights))
    assert _changed(heads, _snapshot(head_parts))
    assert COSNetTrainer.from_config(model.get_config()).freeze_backbone
    # The shipped model is a plain COSNet with the trained weights and a trainable backbone.
    shipped = model.to_inference_model()
    assert shipped.backbone.trainable and shipped.backbone.trainable_weights
    for a, b in zip(model.get_weights(), shipped.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_frozen_backbone_blocks_keep_the_stem_and_first_blocks(synthetic, tmp_path):
    """frozen_backbone_blocks = 3: the stem and blocks 0-2 keep every weight (batch-norm
    statistics included), block 3 on, the ASPP and the heads train; config, save and the shipped
    model keep working."""
    from cosnet_tf.backbones import early_blocks

    model = COSNetTrainer(tiny_backbone(), coattention="vanilla", head_filters=16, frozen_backbone_blocks=3)
    _compile_eager(model, keras.optimizers.AdamW(0.01))
    frozen = early_blocks(model.backbone, 3)
    assert {layer.name for layer in frozen} >= {"Conv1", "expanded_conv_project", "block_2_project_BN"}
    later = [layer for layer in model.backbone.layers if layer.name.startswith(("block_3_", "block_16_", "aspp_"))
             and layer.trainable_weights]
    assert later and not any(layer.name.startswith("block_3_") for layer in frozen)
    fixed = [w.numpy().copy() for layer in frozen for w in layer.weights]
    moving = _snapshot(later + [model.head_a])
    for x, y in _streams(synthetic).take(2):  # two video steps: one trace
        model.train_on_batch(x, y)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(fixed, [w for layer in frozen for w in layer.weights]))
    after = _snapshot(later + [model.head_a])
    assert all(_changed([a], [b]) for a, b in zip(moving, after) if a.ndim == 4)  # every later kernel moved
    restored = COSNetTrainer.from_config(model.get_config())
    assert restored.frozen_backbone_blocks == 3 and not restored.backbone.get_layer("block_2_expand").trainable
    shipped = model.to_inference_model()
    assert all(layer.trainable for layer in shipped.backbone.layers)
    # Weights are copied in order (to_inference_model, initial_weights): freezing must not reorder them.
    assert [w.path for w in model.backbone.weights] == [w.path for w in shipped.backbone.weights]
    for a, b in zip(model.get_weights(), shipped.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"frozen_backbone_blocks must be in \[0, 17\]"):
        COSNetTrainer(tiny_backbone(), coattention="vanilla", head_filters=16, frozen_backbone_blocks=18)
    with pytest.raises(ValueError, match="frozen_backbone_blocks must be >= 0"):
        TrainConfig(davis_root="x", frozen_backbone_blocks=-1)


@pytest.mark.parametrize(
    "make_optimizer",
    # Learning rates large enough that one step moves each weight by far more than its float32
    # spacing: with SGD(1e-3) the head's per-weight step (~5e-5 on weights ~0.3) carried a rounding
    # error of ~1e-3 relative, and a CI machine's summation order tipped it over rtol.
    [lambda: keras.optimizers.SGD(0.5), lambda: PartwiseAdamW(1e-2, weight_decay=0.0)],
    ids=["sgd", "partwise_adamw"],
)
def test_head_learning_rate_multiplier(synthetic, make_optimizer):
    """The head moves 10x as far as with multiplier 1, the backbone as far (SGD: gradients scaled;
    Adam, which a gradient scale does not move: PartwiseAdamW's learning rate)."""
    x, y = next(iter(_streams(synthetic)))
    head_moves, backbone_moves = [], []
    for multiplier in (1.0, 10.0):
        keras.utils.set_random_seed(0)
        model = COSNetTrainer(conv_backbone(), coattention="vanilla", head_filters=16, head_lr_multiplier=multiplier)
        _compile_eager(model, make_optimizer())
        backbone_kernel = model.backbone.trainable_weights[0]
        before = model.head_a.classifier.kernel.numpy().copy(), backbone_kernel.numpy().copy()
        model.train_on_batch(x, y)
        head_moves.append(np.abs(model.head_a.classifier.kernel.numpy() - before[0]).sum())
        backbone_moves.append(np.abs(backbone_kernel.numpy() - before[1]).sum())
    np.testing.assert_allclose(head_moves[1], 10 * head_moves[0], rtol=1e-3)
    np.testing.assert_allclose(backbone_moves[1], backbone_moves[0], rtol=1e-3)
    assert backbone_moves[0] > 0


def test_nan_stops_training_with_a_clear_message(synthetic):
    model = COSNetTrainer(tiny_backbone(), coattention="vanilla", head_filters=16)
    model.compile(optimizer=keras.optimizers.SGD(0.01))
    poisoned = _streams(synthetic).map(lambda x, y: (dict(x, frame_a=x["frame_a"] * np.nan), y))
    guard = NaNGuard("runs/x/checkpoint")
    model.fit(poisoned, steps_per_epoch=5, epochs=2, callbacks=[guard], verbose=0)
    assert guard.message and "nan" in guard.message.lower() and "step 1" in guard.message
    assert int(model.optimizer.iterations.numpy()) == 1


def test_trainer_round_trip_and_inference_model(tmp_path):
    model = COSNetTrainer(tiny_backbone(), coattention="symmetric", head_filters=16, inference_size=(48, 64))
    model.save(tmp_path / "trainer.keras")
    restored = keras.saving.load_model(tmp_path / "trainer.keras")
    assert isinstance(restored, COSNetTrainer) and restored.inference_size == (48, 64)
    plain = model.to_inference_model()
    assert type(plain).__name__ == "COSNet" and plain.inference_size == (48, 64)
    frames = np.random.default_rng(0).uniform(0, 255, (1, 48, 64, 3)).astype("float32")
    np.testing.assert_array_equal(
        plain({"frame_a": frames, "frame_b": frames})["pred_a"],
        model({"frame_a": frames, "frame_b": frames})["pred_a"],
    )


def test_config_errors_name_the_problem(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('davis_root = "x"\nlearning_rat = 0.1\n')
    with pytest.raises(ValueError, match="learning_rat"):
        TrainConfig.from_file(bad)
    with pytest.raises(ValueError, match="multiple of checkpoint_every"):
        TrainConfig(davis_root="x", steps=10, checkpoint_every=3)
    with pytest.raises(ValueError, match="davis_root"):
        TrainConfig()
    with pytest.raises(FileNotFoundError, match="nowhere.toml"):
        TrainConfig.from_file(tmp_path / "nowhere.toml")
    with pytest.raises(ValueError, match="paste_distractors must be a probability"):
        TrainConfig(davis_root="x", paste_distractors=2.0)


def test_paste_distractors_reach_the_training_pairs(synthetic, tmp_path):
    from cosnet_tf.cli.main import build_parser
    from cosnet_tf.cli.train_command import config_from_args

    davis, _, _ = synthetic
    args = ["train", "--davis-root", str(davis), "--input-size", "32", "32", "--batch-size", "2", "--seed", "5"]
    plain = config_from_args(build_parser().parse_args(args))
    pasted = config_from_args(build_parser().parse_args(args + ["--paste-distractors", "1"]))
    assert (plain.paste_distractors, pasted.paste_distractors) == (0.0, 1.0)
    (x_plain, y_plain), (x_pasted, y_pasted) = (next(iter(build_datasets(c)[0])) for c in (plain, pasted))
    assert np.abs(x_pasted["frame_a"].numpy() - x_plain["frame_a"].numpy()).max() > 1.0
    assert (y_pasted["mask_a"].numpy() <= y_plain["mask_a"].numpy()).all()


def test_augmentation_settings_reach_the_training_pairs(synthetic, tmp_path):
    from cosnet_tf.cli.main import build_parser
    from cosnet_tf.cli.train_command import config_from_args

    davis, _, _ = synthetic
    args = ["train", "--davis-root", str(davis), "--input-size", "32", "32", "--batch-size", "2", "--seed", "5"]
    plain = config_from_args(build_parser().parse_args(args))
    rotated = config_from_args(build_parser().parse_args(args + ["--augmentation", '{"hue_delta": 0.5}']))
    assert (plain.augmentation_config().hue_delta, rotated.augmentation_config().hue_delta) == (0.02, 0.5)
    # Everything else keeps its default; TOML's lists become the config's tuples.
    toml = tmp_path / "hue.toml"
    toml.write_text(f'davis_root = "{davis}"\n[augmentation]\nhue_delta = 0.5\nsaturation_range = [0.5, 1.5]\n')
    from_file = TrainConfig.from_file(toml).augmentation_config()
    assert (from_file.saturation_range, from_file.scale_range) == ((0.5, 1.5), (0.8, 1.25))
    # The same draws but the hue: masks (geometry) unchanged, frames recoloured.
    (x_plain, y_plain), (x_rotated, y_rotated) = (next(iter(build_datasets(c)[0])) for c in (plain, rotated))
    np.testing.assert_array_equal(y_rotated["mask_a"].numpy(), y_plain["mask_a"].numpy())
    assert np.abs(x_rotated["frame_a"].numpy() - x_plain["frame_a"].numpy()).max() > 10.0
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['hue'\]"):
        TrainConfig(davis_root="x", augmentation={"hue": 0.5})
    with pytest.raises(ValueError, match="hue_delta must be in"):
        TrainConfig(davis_root="x", augmentation={"hue_delta": 0.7})


def test_training_video_frames_as_the_still_stream(synthetic, monkeypatch):
    from cosnet_tf.cli.main import build_parser
    from cosnet_tf.cli.train_command import config_from_args
    from cosnet_tf.training import run

    davis, images, _ = synthetic
    seen = []
    monkeypatch.setattr(run, "make_saliency_dataset",
                        lambda dataset, *a, **k: seen.append(dataset) or make_saliency_dataset(dataset, *a, **k))
    args = ["train", "--davis-root", str(davis), "--input-size", "32", "32", "--batch-size", "2",
            "--video-steps", "1", "--image-steps", "1"]
    config = config_from_args(build_parser().parse_args(args + ["--stills-from-training-videos"]))
    x, _ = zip(*build_datasets(config)[0].take(4))
    # Every annotated frame of the training split, and nothing of the held-out videos, is a still.
    train = DavisDataset(davis, split="train")
    (stills,) = seen
    assert stills.image_paths == [f for v in train for f, m in zip(v.frame_paths, v.mask_paths) if m]
    assert not set(stills.image_paths) & {f for v in DavisDataset(davis, split="val") for f in v.frame_paths}
    assert [int(b["stream"][0]) for b in x] == [VIDEO_STREAM, IMAGE_STREAM] * 2
    # Without it (and without a saliency set) the stream is video only.
    plain = config_from_args(build_parser().parse_args(args))
    assert {int(b["stream"][0]) for b, _ in build_datasets(plain)[0].take(4)} == {VIDEO_STREAM}
    assert len(seen) == 1
    with pytest.raises(ValueError, match="give one of them"):
        TrainConfig(davis_root="x", saliency_images=str(images), saliency_masks=str(images),
                    stills_from_training_videos=True)


def test_composites_as_the_still_stream(synthetic, monkeypatch, tmp_path):
    from cosnet_tf.cli.main import build_parser
    from cosnet_tf.cli.train_command import config_from_args
    from cosnet_tf.training import run

    davis, images, _ = synthetic
    made = []

    def spy(videos, *args, **kwargs):
        made.append((videos, args, kwargs))
        return make_composite_dataset(videos, *args, **kwargs)

    monkeypatch.setattr(run, "make_composite_dataset", spy)
    args = ["train", "--davis-root", str(davis), "--input-size", "32", "32", "--batch-size", "2",
            "--video-steps", "1", "--image-steps", "1", "--composite-stills", "union"]
    config = config_from_args(build_parser().parse_args(args))
    stream = list(build_datasets(config)[0].take(4))
    # Composites of the training videos (never the held-out ones) feed every image step.
    ((videos, args, kwargs),) = made
    assert [v.name for v in videos] == [v.name for v in DavisDataset(davis, split="train")]
    assert kwargs["label"] == "union"
    assert [int(x["stream"][0]) for x, _ in stream] == [VIDEO_STREAM, IMAGE_STREAM] * 2
    first_image, first_mask = next(iter(make_composite_dataset(videos, *args, **kwargs)))  # the same draws
    np.testing.assert_array_equal(stream[1][0]["frame_a"].numpy(), first_image.numpy())
    np.testing.assert_array_equal(stream[1][1]["mask_a"].numpy(), first_mask.numpy())
    toml = tmp_path / "composites.toml"
    toml.write_text(f'davis_root = "{davis}"\ncomposite_stills = "object"\n')
    assert TrainConfig.from_file(toml).composite_stills == "object"
    with pytest.raises(ValueError, match="give one of them"):
        TrainConfig(davis_root="x", composite_stills="object", stills_from_training_videos=True)
    with pytest.raises(ValueError, match="image_steps >= 1"):
        TrainConfig(davis_root="x", composite_stills="object", image_steps=0)
    with pytest.raises(ValueError, match="composite_stills"):
        TrainConfig(davis_root="x", composite_stills="pasted")


def test_config_file_starts_from_its_base(tmp_path):
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "stage1.toml").write_text(
        'davis_root = "x"\nsteps = 1000\nlearning_rate = 1e-3\nfreeze_backbone = true\n'
        '[model]\npreset = "mobilenetv2"\ncoattention = "vanilla"\ncoattention_config = { cosine = true }\n'
    )
    # The base path is relative to the file that names it; the file's own settings win.
    stage2 = tmp_path / "stage2.toml"
    stage2.write_text('base = "parts/stage1.toml"\nsteps = 500\nfreeze_backbone = false\n')
    config = TrainConfig.from_file(stage2)
    assert (config.steps, config.learning_rate, config.freeze_backbone) == (500, 1e-3, False)
    assert config.model["coattention_config"] == {"cosine": True}
    # Tables merge key by key, through a chain of bases; no co-attention drops the variant's settings.
    twin = tmp_path / "parts" / "stage2_none.toml"
    twin.write_text('base = "../stage2.toml"\n[model]\ncoattention = "none"\n')
    config = TrainConfig.from_file(twin)
    assert config.steps == 500 and config.model == {"preset": "mobilenetv2", "coattention": None}
    # A missing base names itself and the file that asked for it; so does a cycle.
    stage2.write_text('base = "parts/stage0.toml"\n')
    with pytest.raises(FileNotFoundError, match=r"stage0\.toml \(the base of .*stage2\.toml\)"):
        TrainConfig.from_file(stage2)
    stage2.write_text('base = "parts/stage2_none.toml"\n')
    with pytest.raises(ValueError, match="of its own chain"):
        TrainConfig.from_file(twin)
    stage2.write_text("base = 3\n")
    with pytest.raises(ValueError, match="base must be the path"):
        TrainConfig.from_file(stage2)


def test_config_starts_from_a_named_recipe(tmp_path):
    from cosnet_tf.training.recipes import TRAINING_RECIPES

    stage1 = tmp_path / "stage1.toml"
    stage1.write_text('recipe = "coattention_frozen"\ndavis_root = "x"\nbatch_size = 6\n'
                      '[model]\nbackbone_config = { output_stride = 16 }\n')
    config = TrainConfig.from_file(stage1)
    # The recipe's settings, under the file's own (tables merged key by key).
    assert (config.freeze_backbone, config.learning_rate, config.optimizer) == (True, 1e-3, "adamw")
    assert config.batch_size == 6
    assert config.model["backbone_config"] == {"mid_level_block": 12, "low_level_block": 2, "output_stride": 16}
    assert config.model["coattention_config"] == {"cosine": True, "recurrence_gate": True}
    # A stage-2 file names its own recipe over its base's; the recipe's base recipe lies under it.
    stage2 = tmp_path / "stage2.toml"
    stage2.write_text('base = "stage1.toml"\nrecipe = "coattention_finetune"\n')
    config = TrainConfig.from_file(stage2)
    assert (config.freeze_backbone, config.learning_rate, config.batch_size) == (False, 1e-4, 6)
    assert config.dice_weight == 1.0 and TrainConfig.from_file(stage1).dice_weight == 0.0
    assert config.summary_dropout == 0.2 and config.model["backbone_config"]["mid_level_block"] == 12
    # No co-attention drops the recipe's variant settings; the recipes themselves are not changed.
    config = TrainConfig.from_dict({"recipe": "coattention_frozen", "davis_root": "x",
                                    "model": {"coattention": "none"}})
    assert config.coattention is None and "coattention_config" not in config.model
    assert "output_stride" not in TRAINING_RECIPES["coattention_frozen"]["settings"]["model"]["backbone_config"]
    with pytest.raises(ValueError, match=r"bad\.toml: unknown recipe 'frozen'; known: \['coattention_finetune'"):
        bad = tmp_path / "bad.toml"
        bad.write_text('recipe = "frozen"\ndavis_root = "x"\n')
        TrainConfig.from_file(bad)


def _train_command(config_path):
    return [sys.executable, "-m", "cosnet_tf.cli.main", "train", "--config", str(config_path), "--verbose", "2"]


@pytest.mark.slow  # two training processes, one killed
def test_killed_run_resumes_from_its_checkpoint(synthetic, tmp_path):
    davis, _, _ = synthetic
    out = tmp_path / "run"
    config = dict(
        out=str(out), davis_root=str(davis), preset="mobilenetv2", coattention="vanilla",
        backbone_config=TINY_BACKBONE, input_size=[64, 64], batch_size=2, steps=30,
        checkpoint_every=5, val_batches=1, seed=1,
    )
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    state_path = out / "checkpoint" / "state.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    first = subprocess.Popen(_train_command(config_path), cwd=REPO_ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    try:
        while time.time() < deadline and first.poll() is None:
            if state_path.exists() and json.loads(state_path.read_text())["epoch"] >= 2:
                break
            time.sleep(0.05)
        assert first.poll() is None, "the run ended before it could be killed"
        os.kill(first.pid, signal.SIGKILL)
    finally:
        first.wait(timeout=30)
    killed_at = json.loads(state_path.read_text())
    assert 10 <= killed_at["step"] < 30 and killed_at["step"] % 5 == 0
    second = subprocess.run(_train_command(config_path), cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"resuming {out} at step" in second.stdout
    resumed_step = int(second.stdout.split("at step ")[1].split()[0])
    assert resumed_step >= killed_at["step"]
    final = json.loads(state_path.read_text())
    # The optimizer step counter came back with the weights: the run ends at exactly 30.
    assert final["step"] == 30 and final["epoch"] == 6
    epochs = [int(line.split(",")[0]) for line in (out / "log.csv").read_text().splitlines()[1:]]
    assert epochs[-1] == 5 and set(range(6)) <= set(epochs)
    for name in ("final.keras", "best.keras", "config.json"):
        assert (out / name).exists(), name
    assert not list(out.rglob(".tmp-*")), "a temporary file was left behind"


def test_summary_dropout_trains_the_zero_reference_mode(synthetic):
    x, y = next(iter(_streams(synthetic)))
    model = COSNetTrainer(conv_backbone(), coattention="vanilla", head_filters=16, summary_dropout=0.5)
    frames = x["frame_a"][:2]
    all_dropped = model.pair_forward(frames, x["frame_b"][:2], summary_keep=np.zeros(2))["pred_a"]
    zero_ref = model.segment(model.encode(frames), None, output_size=(48, 48))
    np.testing.assert_allclose(all_dropped, zero_ref, atol=1e-6)
    _compile_eager(model, keras.optimizers.SGD(0.01))
    model.train_on_batch(x, y)  # the dropout path runs
    with pytest.raises(ValueError, match="summary_dropout"):
        COSNetTrainer(conv_backbone(), summary_dropout=1.0)


def test_query_feature_dropout_segments_from_the_summary_alone(synthetic):
    """query_feature_dropout: a dropped frame's head reads X = [Z, 0] (the co-attention still
    reads V; the decoder keeps its low-level input); the other frames are untouched."""
    x, y = next(iter(_streams(synthetic)))
    model = COSNetTrainer(conv_backbone(), coattention="vanilla", head_filters=16, query_feature_dropout=0.5)
    kernel = model.head_a.convs[0].kernel  # its summary half starts at zero: give it weights
    values = np.asarray(kernel)
    channels = model.attention_channels
    values[:, :, :channels] = np.random.default_rng(0).normal(0, values[:, :, channels:].std(),
                                                                 values[:, :, :channels].shape)
    kernel.assign(values)
    a, b = np.asarray(x["frame_a"][:2]), np.asarray(x["frame_b"][:2])
    frames = np.stack([a, b, b[:, ::-1]], axis=1)  # groups of 3: [2, 3, 48, 48, 3]
    kept = model.group_forward(frames)
    np.testing.assert_allclose(model.group_forward(frames, feature_keep=np.ones((2, 3))), kept, atol=1e-6)
    dropped = model.group_forward(frames, feature_keep=np.array([[0, 1, 1], [1, 1, 1]]))
    np.testing.assert_allclose(dropped[:, 1:], kept[:, 1:], atol=1e-6)
    np.testing.assert_allclose(dropped[1], kept[1], atol=1e-6)
    assert not np.allclose(dropped[0, 0], kept[0, 0], atol=1e-5)
    # Frame 0 of group 0, by hand: the mean of its two gated summaries (Eq. 13), zeros for V.
    features = [model.encode(frames[:, i]) for i in range(3)]
    summary = keras.ops.mean(keras.ops.stack(
        model.gated_summaries(features[0], keras.ops.stack(features[1:], axis=1))), axis=0)
    attended = model.attention_features(features[0])
    by_hand = model.head_a(keras.ops.concatenate([summary, keras.ops.zeros_like(attended)], axis=-1),
                           low_level=model.low_level_features(features[0]), output_size=(48, 48))
    np.testing.assert_allclose(dropped[0, 0], by_hand[0], atol=1e-5)
    # Pairs: frame a and frame b of each pair drop on their own.
    out = model.pair_forward(x["frame_a"][:2], x["frame_b"][:2], feature_keep=np.array([[1, 0], [1, 1]]))
    full = model.pair_forward(x["frame_a"][:2], x["frame_b"][:2])
    np.testing.assert_allclose(out["pred_a"], full["pred_a"], atol=1e-6)
    assert not np.allclose(out["pred_b"][0], full["pred_b"][0], atol=1e-5)
    np.testing.assert_allclose(out["pred_b"][1], full["pred_b"][1], atol=1e-6)
    _compile_eager(model, keras.optimizers.SGD(0.01))
    model.train_on_batch(x, y)  # the dropout path runs
    assert COSNetTrainer.from_config(model.get_config()).query_feature_dropout == 0.5
    # The command line reaches the trainer; the shipped model is a plain COSNet without it.
    from cosnet_tf.cli.main import build_parser
    from cosnet_tf.cli.train_command import config_from_args
    from cosnet_tf.training.run import build_trainer

    args = build_parser().parse_args(["train", "--davis-root", "x", "--query-feature-dropout", "0.3"])
    config = dataclasses.replace(config_from_args(args), model=dict(backbone_config=TINY_BACKBONE))
    trainer = build_trainer(config)
    assert trainer.query_feature_dropout == 0.3
    assert "query_feature_dropout" not in trainer.to_inference_model().get_config()
    with pytest.raises(ValueError, match="query_feature_dropout"):
        COSNetTrainer(conv_backbone(), coattention="vanilla", query_feature_dropout=1.0)
    with pytest.raises(ValueError, match="needs co-attention"):
        COSNetTrainer(conv_backbone(), coattention=None, query_feature_dropout=0.2)


def test_reference_path_only_trains_what_the_references_change(synthetic):
    """reference_path_only: the co-attention, the gate and the summary half of the head's first
    kernel train (under AdamW's weight decay too); everything N = 0 reads stays, so N = 0
    segments exactly as before and N = 1 does not."""
    davis, images, masks = synthetic
    groups = make_frame_pair_dataset(DavisDataset(davis, split="train"), (48, 48), batch_size=2, seed=0,
                                     references=2)
    stills = make_saliency_dataset(SaliencyDataset(images, masks), (48, 48), batch_size=2, seed=0)
    (x, y), (x_image, y_image) = list(mix_streams(groups, stills, video_steps=1, image_steps=1).take(2))
    model = COSNetTrainer(tiny_backbone(), coattention="vanilla", head_filters=16, head_lr_multiplier=1.0,
                          training_references=2, reference_path_only=True)
    channels, kernel = model.attention_channels, model.head_a.first_layer.kernel
    frames, references = x["frame_a"], x["frame_b"]
    query, refs = model.encode(frames), np.stack([model.encode(references[:, i]) for i in range(2)], axis=1)
    n0, n2 = model.segment(query, None, output_size=(48, 48)), model.segment(query, refs, output_size=(48, 48))
    reference_path = [model.coattention, model.gate]
    kept = [w for w in model.weights if not any(w is v for p in reference_path for v in p.weights)
            and w is not kernel and "seed_generator" not in w.path]
    before = {w.path: w.numpy().copy() for w in kept}
    kernel_before, coattention_before = kernel.numpy().copy(), _snapshot(reference_path)
    assert any("moving_mean" in w.path for w in kept)  # the batch norms' statistics are checked too
    _compile_eager(model, PartwiseAdamW(1e-2, weight_decay=0.1))
    for _ in range(3):
        model.train_on_batch(x, y)
    for w in kept:
        np.testing.assert_array_equal(w.numpy(), before[w.path], err_msg=w.path)
    np.testing.assert_array_equal(kernel.numpy()[:, :, channels:], kernel_before[:, :, channels:])
    assert not np.array_equal(kernel.numpy()[:, :, :channels], kernel_before[:, :, :channels])
    assert _changed(coattention_before, _snapshot(reference_path))
    np.testing.assert_array_equal(model.segment(query, None, output_size=(48, 48)), n0)
    assert not np.allclose(model.segment(query, refs, output_size=(48, 48)), n2, atol=1e-5)
    assert COSNetTrainer.from_config(model.get_config()).reference_path_only
    with pytest.raises(ValueError, match="still-image stream"):
        model.train_on_batch(x_image, y_image)
    with pytest.raises(ValueError, match="needs co-attention"):
        COSNetTrainer(conv_backbone(), coattention=None, reference_path_only=True)
    # The command line reaches the trainer; the shipped model is a plain, fully trainable COSNet.
    from cosnet_tf.cli.main import build_parser
    from cosnet_tf.cli.train_command import config_from_args
    from cosnet_tf.training.run import build_trainer

    args = build_parser().parse_args(["train", "--davis-root", "x", "--reference-path-only"])
    config = dataclasses.replace(config_from_args(args), model=dict(backbone_config=TINY_BACKBONE))
    trainer = build_trainer(config)
    assert trainer.reference_path_only and not trainer.backbone.trainable
    inference = trainer.to_inference_model()
    assert "reference_path_only" not in inference.get_config()
    plain = build_trainer(dataclasses.replace(config, reference_path_only=False)).to_inference_model()
    assert len(inference.trainable_weights) == len(plain.trainable_weights)


def test_groups_train_each_frame_with_the_mean_of_its_summaries(synthetic):
    """training_references = K: each frame of a group is segmented as `segment` does with the
    other K frames as references (Eq. 13), and the group stream mixes with still images."""
    davis, images, masks = synthetic
    groups = make_frame_pair_dataset(DavisDataset(davis, split="train"), (48, 48), batch_size=2, seed=0,
                                     references=2)
    stills = make_saliency_dataset(SaliencyDataset(images, masks), (48, 48), batch_size=2, seed=0)
    stream = mix_streams(groups, stills, video_steps=1, image_steps=1)
    (x, y), (x_image, y_image) = list(stream.take(2))
    assert x["frame_b"].shape == (2, 2, 48, 48, 3) and x_image["frame_b"].shape == (2, 2, 48, 48, 3)
    model = COSNetTrainer(conv_backbone(), coattention="vanilla", head_filters=16, summary_dropout=0.5)
    frames = np.concatenate([x["frame_a"][:, None], x["frame_b"]], axis=1)  # [2, 3, 48, 48, 3]
    grouped = model.group_forward(frames)
    assert grouped.shape == (2, 3, 48, 48, 1)
    features = [model.encode(frames[:, i]) for i in range(3)]
    for i in range(3):
        references = np.stack([features[j] for j in range(3) if j != i], axis=1)
        np.testing.assert_allclose(grouped[:, i], model.segment(features[i], references, output_size=(48, 48)),
                                   atol=1e-5)
    dropped = model.group_forward(frames, summary_keep=np.zeros(2))
    np.testing.assert_allclose(dropped[:, 1], model.segment(features[1], None, output_size=(48, 48)), atol=1e-6)
    _compile_eager(model, keras.optimizers.SGD(0.01))
    before = _snapshot([model.head_a, model.coattention])
    logs = model.train_on_batch(x, y, return_dict=True)
    assert np.isfinite(logs["video_loss"]) and 0.0 <= logs["pair_iou"] <= 1.0
    assert _changed(before, _snapshot([model.head_a, model.coattention]))
    model.train_on_batch(x_image, y_image)  # the image step of a group stream
    # Validation scores what was trained: head_a on each frame of a pair, the other its reference.
    # head_b's logits are pushed far negative so that a validation that used it (pair_forward's)
    # scores differently by construction, not by how far two random initialisations happen to
    # differ: every foreground pixel of mask_b then costs ~log(1e-7). A shift of +2 was not
    # enough: in 1 of 4 runs the two losses differed by 0.001 (under Eq. 11's class balance the
    # foreground's gain can offset the background's loss).
    model.head_b.classifier.bias.assign(model.head_b.classifier.bias - 20.0)
    pair = {"frame_a": x["frame_a"], "frame_b": x["frame_b"][:, 0], "stream": x["stream"]}
    masks = {"mask_a": y["mask_a"], "mask_b": y["mask_b"][:, 0]}
    assert float(np.sum(masks["mask_b"])) > 0  # the construction needs foreground in mask_b
    paired = model.evaluate(pair, masks, verbose=0, return_dict=True)
    grouped = COSNetTrainer.from_model(model, training_references=2)
    _compile_eager(grouped, keras.optimizers.SGD(0.01))
    scores = grouped.evaluate(pair, masks, verbose=0, return_dict=True)
    expected = model.group_forward(np.stack([pair["frame_a"], pair["frame_b"]], axis=1))
    expected_loss = (model._pixel_loss(masks["mask_a"], expected[:, 0])
                     + model._pixel_loss(masks["mask_b"], expected[:, 1]))
    assert scores["loss"] == pytest.approx(float(expected_loss), rel=1e-4)
    assert abs(scores["loss"] - paired["loss"]) > 1e-2, paired  # pair_forward's head_b differs
    config = TrainConfig(davis_root=str(davis), input_size=(48, 48), batch_size=2, training_references=3)
    train, _ = build_datasets(config)
    assert train.element_spec[0]["frame_b"].shape == (2, 3, 48, 48, 3)
    with pytest.raises(ValueError, match="training_references"):
        TrainConfig(davis_root=str(davis), training_references=0)


@pytest.mark.slow  # two traced trainers
def test_every_training_option_traces_in_graph_mode(synthetic):
    """The options the tests above step eagerly, compiled as `fit` runs them: groups with both
    dropouts and frozen early blocks on the video and image streams, and the reference path alone."""
    davis, images, masks = synthetic
    groups = make_frame_pair_dataset(DavisDataset(davis, split="train"), (48, 48), batch_size=2, seed=0,
                                     references=2)
    stills = make_saliency_dataset(SaliencyDataset(images, masks), (48, 48), batch_size=2, seed=0)
    options = dict(coattention="vanilla", head_filters=16, training_references=2)
    model = COSNetTrainer(tiny_backbone(), summary_dropout=0.5, query_feature_dropout=0.5,
                          frozen_backbone_blocks=3, **options)
    model.compile(optimizer=PartwiseAdamW(1e-2, weight_decay=0.1))
    logs = model.fit(mix_streams(groups, stills, video_steps=1, image_steps=1), steps_per_epoch=2, verbose=0)
    assert np.isfinite(logs.history["video_loss"]).all() and np.isfinite(logs.history["image_loss"]).all()
    assert int(model.optimizer.iterations.numpy()) == 2
    reference_path = COSNetTrainer(tiny_backbone(), reference_path_only=True, **options)
    reference_path.compile(optimizer=PartwiseAdamW(1e-2, weight_decay=0.1))
    before = _snapshot([reference_path.coattention])
    logs = reference_path.fit(mix_streams(groups), steps_per_epoch=2, verbose=0)
    assert np.isfinite(logs.history["video_loss"]).all()
    assert _changed(before, _snapshot([reference_path.coattention]))


@pytest.mark.slow  # a traced symmetric trainer
def test_groups_count_the_orthogonality_penalty_once(synthetic):
    """The co-attention runs once for each two frames of a group; Eq. 12 still counts once."""
    davis, _, _ = synthetic
    groups = make_frame_pair_dataset(DavisDataset(davis, split="train"), (48, 48), batch_size=2, seed=0,
                                     references=2)
    x, y = next(iter(mix_streams(groups)))
    symmetric = COSNetTrainer(tiny_backbone(), coattention="symmetric", head_filters=16,
                              coattention_config={"orthogonality_weight": 0.5})
    symmetric.compile(optimizer=keras.optimizers.SGD(0.0))
    penalty = float(orthogonality_penalty(symmetric.coattention.projection, 0.5))
    assert penalty > 0
    logs = symmetric.train_on_batch(x, y, return_dict=True)
    assert logs["orthogonality"] == pytest.approx(penalty, rel=1e-5)


@pytest.mark.slow  # two training runs and a held-out scoring
def test_benchmark_is_written_once_and_held_out_j_is_reported(tmp_path):
    from cosnet_tf.training.run import train

    root = tmp_path / "data"
    config = TrainConfig(
        out=str(tmp_path / "run"), davis_root=str(root),
        model=dict(preset="mobilenetv2", coattention="vanilla", coattention_config={"cosine": True},
                   backbone_config=TINY_BACKBONE),
        input_size=(48, 48),
        batch_size=2, steps=4, checkpoint_every=2, val_batches=1, class_balance=0.0,
        video_eval_refs=[0, 2], verbose=0, run_eagerly=True,  # four steps: no trace
        benchmark={"generator": "recurrence", "num_sequences": 3, "num_val_sequences": 1,
                   "num_frames": 4, "image_size": [48, 48], "seed": 1},
    )
    result = train(config)
    assert sorted(p.name for p in (root / "JPEGImages" / "480p").iterdir()) == [
        "recurrence-000", "recurrence-001", "recurrence-002"]
    assert not (tmp_path / "data.partial").exists()
    scores = json.loads((tmp_path / "run" / "video_j.json").read_text())
    assert set(scores) == {"J_N0", "J_N2"} and all(0.0 <= v <= 1.0 for v in scores.values())
    assert result["video_J"] == scores
    model = keras.saving.load_model(tmp_path / "run" / "final.keras")
    assert model.coattention.cosine
    # Data already there is never rewritten (a user's own DAVIS root is safe).
    stamp = (root / "ImageSets" / "480p" / "train.txt").stat().st_mtime_ns
    train(config)
    assert (root / "ImageSets" / "480p" / "train.txt").stat().st_mtime_ns == stamp


def test_loss_settings_and_none_reach_the_trainer(tmp_path):
    from cosnet_tf.training.run import build_trainer

    config = TrainConfig(davis_root="x", model=dict(coattention="none", backbone_config=TINY_BACKBONE),
                         class_balance=0.25, input_size=(48, 80), short_side=64)
    trainer = build_trainer(config)
    assert trainer.coattention is None and trainer.pixel_loss.balance == 0.25
    assert trainer.get_config()["class_balance"] == 0.25
    # The Dice term: Eq. 11 plus dice_weight times the mean per-frame Dice loss, through the config.
    assert build_trainer(TrainConfig(davis_root="x", model=dict(coattention="none", backbone_config=TINY_BACKBONE),
                                     dice_weight=0.5)).get_config()["dice_weight"] == 0.5
    masks = np.zeros((2, 4, 4, 1), "float32")
    masks[0, :2, :2] = 1
    masks[1, 1:, 1:] = 1
    predictions = np.random.default_rng(0).uniform(0.05, 0.95, (2, 4, 4, 1)).astype("float32")
    plain = float(trainer._pixel_loss(masks, predictions))
    trainer.dice_weight = 0.5
    overlap = (masks * predictions).sum(axis=(1, 2, 3))
    dice = 1 - 2 * overlap / (masks.sum(axis=(1, 2, 3)) + predictions.sum(axis=(1, 2, 3)))
    np.testing.assert_allclose(float(trainer._pixel_loss(masks, predictions)), plain + 0.5 * dice.mean(), rtol=1e-5)
    with pytest.raises(ValueError, match="dice_weight"):
        build_trainer(TrainConfig(davis_root="x", model=dict(coattention="none", backbone_config=TINY_BACKBONE),
                                  dice_weight=-1.0))
    # The shipped model's inference input (aspect-preserving) is recorded with the training size.
    model = trainer.to_inference_model()
    assert model.inference_size == (48, 80) and model.inference_short_side == 64
    with pytest.raises(ValueError, match="benchmark.generator"):
        TrainConfig(davis_root="x", benchmark={"generator": "davis"})


def test_coattention_none_flag_overrides_the_config_file(tmp_path):
    from cosnet_tf.cli.main import build_parser
    from cosnet_tf.cli.train_command import config_from_args

    path = tmp_path / "c.toml"
    path.write_text('davis_root = "x"\ncoattention = "vanilla"\ncoattention_config = { cosine = true }\n')
    args = build_parser().parse_args(["train", "--config", str(path), "--coattention", "none"])
    assert config_from_args(args).coattention is None
    args = build_parser().parse_args(["train", "--config", str(path)])
    assert config_from_args(args).coattention == "vanilla"


def test_model_section_goes_to_from_preset_unchanged(tmp_path):
    from cosnet_tf.cli.main import build_parser
    from cosnet_tf.cli.train_command import config_from_args
    from cosnet_tf.training.run import build_trainer

    path = tmp_path / "c.toml"
    path.write_text(
        'davis_root = "x"\n[model]\npreset = "mobilenetv2"\ncoattention = "channel"\nhead_depth = 2\n'
        'coattention_config = { hidden_units = 8 }\n'
        'backbone_config = { alpha = 0.35, output_stride = 16, aspp_filters = 16, output_filters = 16 }\n'
    )
    config = config_from_args(build_parser().parse_args(["train", "--config", str(path)]))
    assert config.model["head_depth"] == 2 and config.coattention == "channel"
    trainer = build_trainer(config)
    assert trainer.head_depth == 2 and trainer.coattention.hidden_units == 8  # the channel variant's own setting
    assert trainer.feature_channels == 16
    # Flags win over the file, a --model setting key by key.
    args = build_parser().parse_args(["train", "--config", str(path), "--model-config", '{"head_depth": 1}',
                                      "--coattention-config", '{"hidden_units": 4}'])
    config = config_from_args(args)
    assert config.model["head_depth"] == 1 and config.model["coattention_config"] == {"hidden_units": 4}
    assert config.model["backbone_config"]["aspp_filters"] == 16


def test_older_flat_model_keys_are_read_into_the_model_section(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text('davis_root = "x"\npreset = "mobilenetv2"\ncoattention = "symmetric"\n'
                    'coattention_config = { cosine = true }\nbackbone_config = { output_stride = 16 }\n'
                    'orthogonality_weight = 1e-3\n')
    config = TrainConfig.from_file(path)
    assert config.model == {"preset": "mobilenetv2", "coattention": "symmetric", "backbone_config": {"output_stride": 16},
                            "coattention_config": {"orthogonality_weight": 1e-3, "cosine": True}}
    # Eq. 12's weight was only ever the symmetric variant's: other variants drop it.
    path.write_text('davis_root = "x"\ncoattention = "vanilla"\northogonality_weight = 1e-3\n')
    assert TrainConfig.from_file(path).model == {"coattention": "vanilla", "preset": "mobilenetv2"}
    # Every committed config still reads, whichever form it is written in.
    committed = [p for p in sorted((REPO_ROOT / "training" / "configs").glob("*.toml")) if "tune" not in p.name]
    assert len(committed) >= 5
    for path in committed:
        assert TrainConfig.from_file(path).model["preset"] == "mobilenetv2", path.name


def test_model_section_errors_name_the_setting(tmp_path):
    from cosnet_tf.cli.main import build_parser
    from cosnet_tf.cli.train_command import config_from_args

    with pytest.raises(ValueError, match=r"unknown model setting\(s\) \['head_dpeth'\]"):
        TrainConfig(davis_root="x", model={"head_dpeth": 2})
    with pytest.raises(ValueError, match="'coattention' is given twice"):
        TrainConfig.from_dict({"davis_root": "x", "coattention": "vanilla", "model": {"coattention": "channel"}})
    # A variant's settings go with it: no co-attention, nothing to configure.
    assert TrainConfig(davis_root="x", model={"coattention": "none", "coattention_config": {"cosine": True}}).model == {
        "preset": "mobilenetv2", "coattention": None}
    args = build_parser().parse_args(["train", "--davis-root", "x", "--coattention", "vanilla",
                                      "--orthogonality-weight", "1e-3"])
    with pytest.raises(ValueError, match="'vanilla' variant.*orthogonality_weight"):
        config_from_args(args)


def test_held_out_videos_may_come_from_another_root(tmp_path):
    from cosnet_tf.training.run import build_datasets

    train_root = SyntheticVideoGenerator(3, 4, (32, 32), seed=1, num_val_sequences=1).write_davis(tmp_path / "train")
    dev_root = SyntheticVideoGenerator(2, 4, (32, 32), seed=2, name_prefix="dev").write_davis(tmp_path / "dev")
    config = TrainConfig(davis_root=str(train_root), val_davis_root=str(dev_root), batch_size=2, input_size=(32, 32),
                         model={"backbone_config": TINY_BACKBONE})
    held_out = config.held_out_videos()
    assert held_out.root == dev_root.resolve() and held_out.sequence_names == ["dev-000", "dev-001"]
    assert "dev-000" not in config.training_videos().sequence_names
    config = TrainConfig(davis_root=str(train_root), val_davis_root=str(dev_root), val_sequences=["dev-001"])
    assert config.held_out_videos().sequence_names == ["dev-001"]
    _, val = build_datasets(config)
    assert val is not None
    # Without a held-out root, the split of the training root as before; none at all when unset.
    assert TrainConfig(davis_root=str(train_root)).held_out_videos().root == train_root.resolve()
    assert TrainConfig(davis_root=str(train_root), val_split="").held_out_videos() is None


def test_initial_weights_start_the_run_from_a_saved_model(tmp_path):
    """Two-stage training: a run starts from another run's final.keras; another network is refused."""
    from cosnet_tf.training.run import build_trainer

    config = TrainConfig(davis_root="x", model=dict(coattention="vanilla", backbone_config=TINY_BACKBONE),
                         input_size=(48, 64))
    first = build_trainer(config)
    for weight in first.weights:  # unlike any fresh initialisation
        weight.assign(np.random.default_rng(0).normal(size=weight.shape).astype(weight.dtype))
    path = str(tmp_path / "first.keras")
    first.to_inference_model().save(path)
    second = build_trainer(dataclasses.replace(config, initial_weights=path, freeze_backbone=True))
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    for change in ({"head_filters": 8}, {"coattention": "symmetric"}):
        other = dataclasses.replace(config, initial_weights=path, model=dict(config.model, **change))
        with pytest.raises(ValueError, match=f"another network.*{next(iter(change))}"):
            build_trainer(other)
    # Built alike but shaped otherwise (a narrower backbone): the weights' shapes differ.
    narrow = dict(config.model, backbone_config=dict(TINY_BACKBONE, aspp_filters=8, output_filters=8))
    with pytest.raises(ValueError, match="another network.*shape"):
        build_trainer(dataclasses.replace(config, initial_weights=path, model=narrow))
    with pytest.raises(FileNotFoundError, match="missing.keras"):
        build_trainer(dataclasses.replace(config, initial_weights=str(tmp_path / "missing.keras")))


def test_initial_weights_may_add_the_recurrence_gate(tmp_path):
    """A model without the co-attention's recurrence gate starts one with it; the gate keeps its start."""
    from cosnet_tf.training.run import build_trainer

    model = dict(coattention="vanilla", coattention_config={"cosine": True}, backbone_config=TINY_BACKBONE)
    config = TrainConfig(davis_root="x", model=model, input_size=(48, 64))
    first = build_trainer(config)
    for weight in first.weights:
        weight.assign(np.random.default_rng(0).normal(size=weight.shape).astype(weight.dtype))
    path = str(tmp_path / "first.keras")
    first.to_inference_model().save(path)
    gated = dict(model, coattention_config={"cosine": True, "recurrence_gate": True})
    second = build_trainer(dataclasses.replace(config, initial_weights=path, model=gated))
    added = {id(w) for w in second.coattention.recurrence_gate_weights}
    assert len(added) == 2
    copied = [w for w in second.weights if id(w) not in added]
    assert len(copied) == len(first.weights) == len(second.weights) - 2
    for a, b in zip(first.weights, copied):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_allclose(second.coattention.recurrence_threshold.numpy(), 0.3)
    np.testing.assert_allclose(np.exp(second.coattention.log_recurrence_sharpness.numpy()), 10.0, rtol=1e-6)
    # The other way round (a gated source, an ungated run) is another network.
    path = str(tmp_path / "gated.keras")
    second.to_inference_model().save(path)
    with pytest.raises(ValueError, match="another network.*weights there"):
        build_trainer(dataclasses.replace(config, initial_weights=path))


@pytest.mark.slow  # bf16 is emulated, and slow, on CPUs without AVX-512 BF16 or AMX
def test_mixed_bfloat16_trains_in_bf16_and_saves_a_float32_model(synthetic, tmp_path):
    """dtype_policy = "mixed_bfloat16": bf16 compute and float32 weights while training; the
    inference model (what final.keras holds) computes in float32, and the global policy is left
    as it was."""
    from cosnet_tf.models import COSNet
    from cosnet_tf.training.run import build_datasets, build_trainer

    davis, _, _ = synthetic
    config = TrainConfig(davis_root=str(davis), model=dict(coattention="vanilla", backbone_config=TINY_BACKBONE),
                         input_size=(48, 64), batch_size=2, image_steps=0, optimizer="adamw",
                         learning_rate=1e-3, dtype_policy="mixed_bfloat16", run_eagerly=True)
    trainer = build_trainer(config)
    assert keras.config.dtype_policy().name == "float32"
    assert trainer.backbone.compute_dtype == "bfloat16" and trainer.head_a.compute_dtype == "bfloat16"
    assert {w.dtype for w in trainer.weights} == {"float32"}
    before = [w.numpy().copy() for w in trainer.trainable_weights]
    history = trainer.fit(build_datasets(config)[0], steps_per_epoch=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(before, trainer.trainable_weights))

    model = trainer.to_inference_model()
    path = str(tmp_path / "bf16.keras")
    model.save(path)
    loaded = COSNet.from_preset(path)
    for network in (model, loaded):
        assert network.compute_dtype == "float32"
        assert network.backbone.compute_dtype == "float32" and network.head_a.compute_dtype == "float32"
    frames = np.random.default_rng(0).uniform(0, 255, (2, 48, 64, 3)).astype("float32")
    out = loaded.segment(loaded.encode(frames[:1]), loaded.encode(frames[1:])[None], output_size=(48, 64))
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    np.testing.assert_allclose(np.asarray(out), np.asarray(
        model.segment(model.encode(frames[:1]), model.encode(frames[1:])[None], output_size=(48, 64))), atol=1e-6)
    with pytest.raises(ValueError, match="dtype_policy must be one of"):
        dataclasses.replace(config, dtype_policy="mixed_float16")


@pytest.mark.slow  # emulated bf16 on an AVX2 CPU
def test_mixed_bfloat16_trains_the_symmetric_variant_with_its_float32_penalty(synthetic):
    """The symmetric co-attention adds Eq. 12's penalty with add_loss; under mixed_bfloat16 the
    layer reads P in bf16, and the penalty must still reach the float32 loss (a bf16 penalty
    stops the first step with an AddV2 dtype error)."""
    from cosnet_tf.training.run import build_datasets, build_trainer

    davis, _, _ = synthetic
    config = TrainConfig(davis_root=str(davis), model=dict(coattention="symmetric", backbone_config=TINY_BACKBONE),
                         input_size=(48, 64), batch_size=2, image_steps=0, optimizer="adamw",
                         learning_rate=1e-3, dtype_policy="mixed_bfloat16", run_eagerly=True)
    trainer = build_trainer(config)
    history = trainer.fit(build_datasets(config)[0], steps_per_epoch=1, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert trainer.losses and all(keras.backend.standardize_dtype(l.dtype) == "float32" for l in trainer.losses)


# ---------------------------------------------------------------- settings declared once
def _sample(field):
    """A value of `field` other than its default, of the kind its declaration reads."""
    from cosnet_tf.training.settings import default_of

    default, meta = default_of(field), field.metadata
    samples = {"model": {"head_depth": 2}, "augmentation": {"hue_delta": 0.5}, "benchmark": {"generator": "synthetic"},
               "video_eval_refs": [0, 5]}
    if field.name in samples:
        return samples[field.name]
    if meta["choices"]:
        return next(c for c in meta["choices"] if c != default)
    if isinstance(default, bool):
        return not default
    if isinstance(default, tuple):
        return (64, 96)
    if isinstance(default, int) or meta["type"] is int:
        return default * 2 if default else 1
    if isinstance(default, float):
        return default / 2 if default else 0.5
    if meta["nargs"] == "+":
        return ["a", "b"]
    return "elsewhere"


def _argv(flag, value):
    if isinstance(value, bool):
        return [flag if value else "--no-" + flag[2:]]
    if isinstance(value, dict):
        return [flag, json.dumps(value)]
    if isinstance(value, (list, tuple)):
        return [flag, *map(str, value)]
    return [flag, str(value)]


def _toml(key, value):
    if isinstance(value, bool):
        return f"{key} = {str(value).lower()}"
    if isinstance(value, dict):
        return f"{key} = {{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }"
    return f"{key} = {json.dumps(list(value) if isinstance(value, tuple) else value)}"


def test_every_setting_is_a_flag_and_a_file_key_with_the_same_name_help_and_default(tmp_path):
    """One declaration per TrainConfig field: `--name` on the command line and `name` in a file set
    the same field to the same value; --help shows the declared help and default."""
    from cosnet_tf.cli.main import build_parser
    from cosnet_tf.cli.train_command import config_from_args
    from cosnet_tf.training.settings import default_of, flag_name

    parser = build_parser()
    train_parser = parser._subparsers._group_actions[0].choices["train"]
    actions = {flag: action for action in train_parser._actions for flag in action.option_strings}
    # Settings that are only valid together.
    companions = {"saliency_images": {"saliency_masks": "m"}, "saliency_masks": {"saliency_images": "i"}}
    plain_cli = config_from_args(parser.parse_args(["train", "--davis-root", "x"]))
    (tmp_path / "plain.toml").write_text('davis_root = "x"\n')
    plain_file = TrainConfig.from_file(tmp_path / "plain.toml")
    for field in dataclasses.fields(TrainConfig):
        flag = flag_name(field)
        assert flag == ("--model-config" if field.name == "model" else "--" + field.name.replace("_", "-"))
        action = actions[flag]
        assert action.dest == field.name and field.metadata["help"] in action.help, field.name
        default = default_of(field)
        if default is not None and not isinstance(default, (bool, dict)):
            shown = " ".join(map(str, default)) if isinstance(default, tuple) else str(default)
            assert f"(default: {shown})" in action.help, (field.name, action.help)
        if field.name not in ("model", "davis_root"):  # [model]: checked keys added; davis_root: required
            assert getattr(plain_cli, field.name) == getattr(plain_file, field.name) == default, field.name
        value = _sample(field)
        extra = dict(companions.get(field.name, {}), davis_root="x")
        argv = ["train"] + [word for k, v in extra.items() for word in _argv("--" + k.replace("_", "-"), v)]
        from_flags = config_from_args(parser.parse_args(argv + _argv(flag, value)))
        path = tmp_path / f"{field.name}.toml"
        path.write_text("\n".join(_toml(k, v) for k, v in {**extra, field.name: value}.items()) + "\n")
        from_file = TrainConfig.from_file(path)
        got = getattr(from_flags, field.name)
        assert got == getattr(from_file, field.name) != getattr(plain_file, field.name), field.name
        if field.name == "model":
            assert got["head_depth"] == 2
        else:
            expected = tuple(value) if isinstance(default, tuple) else value
            assert got == expected, (field.name, got, value)


def test_old_names_still_work_with_a_warning(tmp_path, capsys):
    from cosnet_tf.cli.main import build_parser
    from cosnet_tf.cli.train_command import config_from_args

    path = tmp_path / "old.toml"
    path.write_text('davis_root = "x"\nrun_dir = "runs/old"\nimage_size = [64, 96]\ninference_short_side = 80\n')
    with pytest.warns(FutureWarning, match=r"old\.toml: 'image_size' is now called 'input_size'"):
        config = TrainConfig.from_file(path)
    assert (config.out, config.input_size, config.short_side) == ("runs/old", (64, 96), 80)
    with pytest.warns(FutureWarning, match="is now TrainConfig.input_size"):
        assert config.image_size == (64, 96)
    args = build_parser().parse_args(["train", "--davis-root", "x", "--run-dir", "runs/old", "--image-size", "64", "96",
                                      "--inference-short-side", "80", "--model", '{"head_depth": 2}',
                                      "--freeze-backbone", "true"])
    config = config_from_args(args)
    assert (config.out, config.input_size, config.short_side) == ("runs/old", (64, 96), 80)
    assert config.model["head_depth"] == 2 and config.freeze_backbone
    err = capsys.readouterr().err
    for old, new in (("--run-dir", "--out"), ("--image-size", "--input-size"),
                     ("--inference-short-side", "--short-side"), ("--model JSON", "--model-config")):
        assert f"{old} is deprecated, use {new}" in err, (old, err)
    assert "--freeze-backbone true is deprecated" in err
    # A key given under its old and its new name is refused; a misspelt key gets a suggestion.
    path.write_text('davis_root = "x"\nrun_dir = "a"\nout = "b"\n')
    with pytest.raises(ValueError, match="'run_dir' and 'out' are the same setting"), pytest.warns(FutureWarning):
        TrainConfig.from_file(path)
    path.write_text('davis_root = "x"\ninput_sise = [64, 64]\n')
    with pytest.raises(ValueError, match=r"old\.toml: unknown setting 'input_sise' \(did you mean 'input_size'\?\)"):
        TrainConfig.from_file(path)


def test_cli_declarations_load_without_tensorflow():
    """`cosnet --help` builds the train and tune parsers from the settings' declarations, which
    must not start TensorFlow (the package's own __init__ is left out here: it is not this test's)."""
    code = (
        "import sys, types, pathlib\n"
        "package = types.ModuleType('cosnet_tf'); package.__path__ = [str(pathlib.Path('cosnet_tf').resolve())]\n"
        "sys.modules['cosnet_tf'] = package\n"
        "import cosnet_tf.cli.train_command, cosnet_tf.cli.tune_command, cosnet_tf.training.run_config\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'keras_tuner') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout


# ------------------------------------------------------------------------ staged configs
@pytest.mark.slow  # three short training runs
def test_staged_config_runs_its_stages_resumes_the_interrupted_one_and_chains_weights(
        synthetic, tmp_path, monkeypatch, capsys):
    """Two stages into --out/<stage>/: a kill in stage 2 after a checkpoint resumes stage 2 there
    (stage 1 is not run again), stage 2 starts from stage 1's final weights, and --out/final.keras is
    the last stage's model."""
    from cosnet_tf.cli.main import main
    from cosnet_tf.models.cosnet import read_saved_cosnet
    from cosnet_tf.training import callbacks, run

    davis, _, _ = synthetic
    config = tmp_path / "staged.toml"
    config.write_text(
        f'davis_root = "{davis}"\ninput_size = [32, 32]\nbatch_size = 2\nsteps = 2\ncheckpoint_every = 1\n'
        'image_steps = 0\nval_batches = 1\nverbose = 2\noptimizer = "adamw"\nlearning_rate = 1e-2\n'
        'run_eagerly = true\n'  # two steps a stage: no trace
        f'[model]\ncoattention = "vanilla"\nhead_filters = 16\nbackbone_config = {_toml("x", TINY_BACKBONE)[4:]}\n'
        '[[stages]]\nname = "first"\nfreeze_backbone = true\n'
        '[[stages]]\nname = "second"\nlearning_rate = 1e-3\n'
    )
    out = tmp_path / "runs"

    class KilledAfterFirstCheckpoint(callbacks.ResumableCheckpoint):
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            if "second" in str(self.directory):
                raise KeyboardInterrupt("killed after a checkpoint")

    loaded = []
    load_initial_weights = run.load_initial_weights

    def recording_load(trainer, path):
        load_initial_weights(trainer, path)
        loaded.append((path, [w.numpy().copy() for w in trainer.weights]))

    monkeypatch.setattr(run, "load_initial_weights", recording_load)
    monkeypatch.setattr(run, "ResumableCheckpoint", KilledAfterFirstCheckpoint)
    with pytest.raises(KeyboardInterrupt):
        main(["train", "--config", str(config), "--out", str(out)])
    first_final = out / "first" / "final.keras"
    assert first_final.exists() and not (out / "second" / "final.keras").exists()
    assert json.loads((out / "second" / "checkpoint" / "state.json").read_text())["step"] == 1
    assert not (out / "final.keras").exists()
    # Stage 2 started from stage 1's final weights.
    (path, weights), = loaded
    assert pathlib.Path(path) == first_final
    stage1 = read_saved_cosnet(str(first_final)).get_weights()
    assert len(weights) == len(stage1) and all(np.array_equal(a, b) for a, b in zip(weights, stage1))
    stamp = first_final.stat().st_mtime_ns

    monkeypatch.setattr(run, "ResumableCheckpoint", callbacks.ResumableCheckpoint)
    capsys.readouterr()
    assert main(["train", "--config", str(config), "--out", str(out)]) in (0, None)
    printed = capsys.readouterr().out
    assert f"stage first: done ({first_final})" in printed
    assert f"resuming {out / 'second'} at step 1" in printed
    assert first_final.stat().st_mtime_ns == stamp
    assert json.loads((out / "second" / "checkpoint" / "state.json").read_text())["step"] == 2
    assert filecmp.cmp(out / "final.keras", out / "second" / "final.keras", shallow=False)
    assert not list(out.rglob(".tmp-*"))
