"""The motion cue: `RelativeMotion`, `COSNet(motion_gap=...)`, near frames in pairs and plans."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from cosnet_tf import COSNet
from cosnet_tf.data import DavisDataset, SyntheticVideoGenerator, make_frame_pair_dataset
from cosnet_tf.inference import VideoSegmenter, near_frame_index
from cosnet_tf.inference.reference_sampling import video_reference_plan
from cosnet_tf.layers import RelativeMotion
from cosnet_tf.training import COSNetTrainer, mix_streams
from cosnet_tf.utils.dtype_policy import global_dtype_policy
from tests.conftest import random_frames, tiny_backbone, tiny_cosnet

GAP = 2


def numpy_relative_motion(logits, height, width, max_fraction):
    best = logits.argmax(-1)
    positions = np.arange(height * width)
    dy = (best // width - positions // width).astype(np.float64)
    dx = (best % width - positions % width).astype(np.float64)
    dy -= np.median(dy, axis=-1, keepdims=True)
    dx -= np.median(dx, axis=-1, keepdims=True)
    motion = np.sqrt(dy**2 + dx**2) / min(height, width)
    return (np.minimum(motion, max_fraction) / max_fraction).reshape(-1, height, width, 1)


def motion_model(**kwargs):
    model = tiny_cosnet("vanilla", coattention_config={"cosine": True}, motion_gap=GAP, **kwargs)
    # Weights on the motion input, as a trained model has (a new model starts them at zero).
    for head in (model.head_a, model.head_b):
        kernel = head.convs[0].kernel.numpy()
        kernel[:, :, -1] = np.random.default_rng(3).normal(0, 1.0, kernel[:, :, -1].shape)
        head.convs[0].kernel.assign(kernel)
    return model


# -------------------------------------------------------------------- layer
def test_relative_motion_equals_numpy_and_round_trips():
    rng = np.random.default_rng(0)
    height, width = 5, 7
    logits = rng.normal(size=(3, height * width, height * width)).astype("float32")
    layer = RelativeMotion(max_fraction=0.3)
    out = layer(logits, grid=(height, width))
    assert tuple(out.shape) == (3, height, width, 1)
    np.testing.assert_allclose(out, numpy_relative_motion(logits, height, width, 0.3), atol=1e-6)
    assert 0 < float(np.mean(out)) < 1, "degenerate case: the test would prove nothing"
    again = RelativeMotion.from_config(layer.get_config())
    np.testing.assert_array_equal(again(logits, grid=(height, width)), out)
    with pytest.raises(ValueError, match="max_fraction"):
        RelativeMotion(max_fraction=0)


def test_relative_motion_separates_what_moves_from_the_camera():
    """The camera pans one cell right; one 2x2 block moves three cells further: only it is read."""
    height, width = 8, 10
    source = np.arange(height * width).reshape(height, width)
    match = np.roll(source, 1, axis=1)  # where each query position is found in the near frame
    match[2:4, 2:4] = source[2:4, 5:7]
    logits = np.full((1, height * width, height * width), -1.0, "float32")
    logits[0, source.ravel(), match.ravel()] = 1.0
    motion = np.asarray(RelativeMotion(max_fraction=0.5)(logits, grid=(height, width)))[0, :, :, 0]
    assert motion[2:4, 2:4].min() > 0.5  # 2 cells against the camera: 2/8 of the short side, /0.5
    moving = np.zeros_like(motion, bool)
    moving[2:4, 2:4] = True
    # The wrap-around column of np.roll moves against the camera too; the rest sits still.
    still = ~moving
    still[:, 0] = False
    assert motion[still].max() == 0.0


def test_motion_is_float32_under_mixed_bfloat16():
    """bf16 logits tie, and an arg max over ties is the first position: the motion is computed
    in float32 whatever the policy."""
    with global_dtype_policy("mixed_bfloat16"):
        model = COSNet(tiny_backbone(), coattention="vanilla", coattention_config={"cosine": True},
                       head_filters=16, motion_gap=GAP)
    features = model.encode(random_frames(2, 48, 48, 1))
    assert model.relative_motion.compute_dtype == "float32"
    assert model.motion(features[:1], features[1:]).dtype == "float32"


# -------------------------------------------------------------------- model
def test_motion_enters_the_head_at_zero_and_only_from_the_near_frame():
    model = tiny_cosnet("vanilla", coattention_config={"cosine": True}, motion_gap=GAP)
    channels = model.attention_channels
    kernel = model.head_a.convs[0].kernel.numpy()
    assert kernel.shape[2] == 2 * channels + 1 and not kernel[:, :, -1].any()
    model = motion_model()
    features = model.encode(random_frames(5, 48, 64, 2))
    query, references, near = features[:1], features[1:4], features[4:]
    motion = model.motion(query, near)
    assert float(np.std(motion)) > 0, "degenerate case: the test would prove nothing"
    # N references and the near frame last: Eq. 13 over the N, the motion from the near frame.
    summaries = model.gated_summaries(query, references[None])
    expected = model.head_a(np.concatenate([np.mean(summaries, axis=0), query, motion], axis=-1),
                            output_size=(48, 64))
    out = model.segment(query, np.concatenate([references, near])[None], output_size=(48, 64))
    np.testing.assert_allclose(out, expected, atol=1e-5)
    # N = 0: no summary and no motion, the frame-by-frame baseline.
    alone = model.head_a(np.concatenate([np.zeros_like(query), query, np.zeros_like(motion)], axis=-1),
                         output_size=(48, 64))
    np.testing.assert_allclose(model.segment(query, None, output_size=(48, 64)), alone, atol=1e-6)
    # The near frame alone: its motion, no summary.
    near_only = model.head_a(np.concatenate([np.zeros_like(query), query, motion], axis=-1), output_size=(48, 64))
    np.testing.assert_allclose(model.segment(query, near[None], output_size=(48, 64)), near_only, atol=1e-5)
    assert np.abs(np.asarray(near_only) - np.asarray(alone)).max() > 1e-4


@pytest.mark.parametrize("fusion", ["attention", "prediction"])
def test_motion_with_n_known_only_at_run_time_equals_the_static_n(fusion):
    model = motion_model()
    query = model.encode(random_frames(1, 48, 48, 4))
    refs = model.encode(random_frames(4, 48, 48, 5))

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 16]), tf.TensorSpec([None, None, None, None, 16])])
    def dynamic(q, r):
        return model.segment(q, r, output_size=(48, 48), fusion=fusion)

    for n in range(5):
        expected = model.segment(query, refs[None, :n] if n else None, output_size=(48, 48), fusion=fusion)
        np.testing.assert_allclose(dynamic(query, refs[None, :n]), expected, atol=1e-5)
    assert dynamic.experimental_get_tracing_count() == 1


def test_motion_model_round_trips_and_needs_a_coattention(tmp_path):
    model = motion_model()
    frames = random_frames(3, 48, 48, 6)
    model.save(tmp_path / "motion.keras")
    restored = keras.saving.load_model(tmp_path / "motion.keras")
    assert restored.motion_gap == GAP and restored.get_config() == model.get_config()
    features = model.encode(frames)
    np.testing.assert_array_equal(restored.segment(features[:1], features[None, 1:]),
                                  model.segment(features[:1], features[None, 1:]))
    with pytest.raises(ValueError, match="motion_gap"):
        COSNet(tiny_backbone(), coattention=None, motion_gap=GAP)
    with pytest.raises(ValueError, match="motion_gap"):
        COSNet(tiny_backbone(), motion_gap=0)


# ---------------------------------------------------------------- plans
def test_the_plan_puts_each_querys_near_frame_last():
    assert [near_frame_index(6, q, 2) for q in range(6)] == [2, 3, 4, 5, 2, 3]
    assert near_frame_index(1, 0, 2) == 0
    plan = video_reference_plan(6, 2, "uniform", motion_gap=2)
    base = video_reference_plan(6, 2, "uniform")
    assert plan == [refs + [near_frame_index(6, q, 2)] for q, refs in enumerate(base)]
    assert video_reference_plan(6, 0, motion_gap=2) == [[]] * 6  # N = 0: no near frame either


def test_video_segmenter_segments_with_the_near_frame():
    model = motion_model()
    video = np.random.default_rng(7).integers(0, 255, (6, 48, 48, 3), dtype=np.uint8)
    segmenter = VideoSegmenter(model, num_references=2, input_size=(48, 48))
    probabilities = segmenter.segment(video)
    features = model.encode(video.astype("float32"))
    for query in (0, 5):
        refs = segmenter.reference_plan(6)[query]
        assert refs[-1] == near_frame_index(6, query, GAP)
        expected = model.segment(features[query : query + 1], tf.gather(features, refs)[None], output_size=(48, 48))
        np.testing.assert_allclose(probabilities[query], np.asarray(expected)[0, :, :, 0], atol=1e-4)
    np.testing.assert_allclose(segmenter.segment_encoded(segmenter.encode_video(video)), probabilities, atol=1e-5)
    with pytest.raises(ValueError, match="reference_pool"):
        VideoSegmenter(model, reference_pool=2)


# ------------------------------------------------------------------ data
def _write_video(root, name, frames):
    from PIL import Image

    (root / "JPEGImages" / "480p" / name).mkdir(parents=True)
    (root / "Annotations" / "480p" / name).mkdir(parents=True)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(root / "JPEGImages" / "480p" / name / f"{i:05d}.png")
        mask = np.zeros(frame.shape[:2], np.uint8)
        mask[4:12, 4:12] = 255
        Image.fromarray(mask).save(root / "Annotations" / "480p" / name / f"{i:05d}.png")


def test_pairs_carry_the_near_frame_with_frame_a_geometry(tmp_path):
    rng = np.random.default_rng(8)
    still = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    _write_video(tmp_path / "still", "still", [still] * 4)  # identical frames: geometry and colour show
    pairs = make_frame_pair_dataset(DavisDataset(tmp_path / "still"), (16, 24), batch_size=4, seed=1, near_gap=GAP)
    x, _ = next(iter(pairs))
    assert sorted(x) == ["frame_a", "frame_b", "frame_near_a"]
    np.testing.assert_array_equal(x["frame_near_a"], x["frame_a"])  # augmented alike
    assert np.abs(np.asarray(x["frame_b"]) - np.asarray(x["frame_a"])).max() > 1  # b has its own geometry
    # Frames of one flat grey each (10 x their index): the near frame is `GAP` later, earlier at the end.
    _write_video(tmp_path / "ramp", "ramp", [np.full((24, 32, 3), 10 * i, np.uint8) for i in range(5)])
    pairs = make_frame_pair_dataset(DavisDataset(tmp_path / "ramp"), (16, 24), batch_size=5, augmentation=None,
                                    shuffle=False, seed=1, near_gap=GAP)
    x, _ = next(iter(pairs))
    a = np.round(np.asarray(x["frame_a"])[:, 0, 0, 0] / 10).astype(int)
    near = np.round(np.asarray(x["frame_near_a"])[:, 0, 0, 0] / 10).astype(int)
    assert a.tolist() == [0, 1, 2, 3, 4]
    assert near.tolist() == [near_frame_index(5, int(i), GAP) for i in a]
    assert "frame_near_a" not in next(iter(make_frame_pair_dataset(DavisDataset(tmp_path / "ramp"), (16, 24), 2)))[0]


# -------------------------------------------------------------- training
def test_the_trainer_teaches_head_a_the_motion(tmp_path):
    root = SyntheticVideoGenerator(num_sequences=2, num_frames=5, image_size=(48, 64), seed=3).write_davis(tmp_path)
    pairs = make_frame_pair_dataset(DavisDataset(root), (48, 64), batch_size=2, seed=2, near_gap=GAP)
    model = COSNetTrainer(tiny_backbone(), coattention="vanilla", coattention_config={"cosine": True},
                          head_filters=16, motion_gap=GAP)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(mix_streams(pairs).repeat(), steps_per_epoch=2, epochs=1, verbose=0)
    assert np.abs(model.head_a.convs[0].kernel.numpy()[:, :, -1]).sum() > 0
    assert not model.head_b.convs[0].kernel.numpy()[:, :, -1].any()  # only head a segments at test time
    # Without near frames the motion input is zero, and its weights get no gradient.
    plain = make_frame_pair_dataset(DavisDataset(root), (48, 64), batch_size=2, seed=2)
    fresh = COSNetTrainer(tiny_backbone(), coattention="vanilla", coattention_config={"cosine": True},
                          head_filters=16, motion_gap=GAP)
    fresh.compile(optimizer=keras.optimizers.Adam(1e-2))
    fresh.fit(mix_streams(plain).repeat(), steps_per_epoch=2, epochs=1, verbose=0)
    assert not fresh.head_a.convs[0].kernel.numpy()[:, :, -1].any()


def test_explain_shows_the_motion_and_segments_as_cosnet_segment(tmp_path):
    from cosnet_tf.inference import explain_frame, render_explanation_sheet

    model = motion_model()
    video = np.random.default_rng(9).integers(0, 255, (6, 48, 48, 3), dtype=np.uint8)
    result = explain_frame(model, video, frame_index=4, num_references=2, input_size=(48, 48))
    assert result.reference_frames.shape[0] == 2 and result.motion.shape == result.feature_size
    segmenter = VideoSegmenter(model, num_references=2, input_size=(48, 48))
    np.testing.assert_allclose(result.probability_with, segmenter.segment(video)[4], atol=1e-4)
    render_explanation_sheet(result, tmp_path / "sheet.png")
    assert (tmp_path / "sheet.png").stat().st_size > 0


def test_the_saved_model_reads_the_last_reference_as_the_near_frame(tmp_path):
    from cosnet_tf.export import export_saved_model

    model = motion_model(inference_size=(48, 48))
    path = export_saved_model(model, tmp_path / "motion")
    served = tf.saved_model.load(str(path))
    frames = random_frames(4, 48, 48, 10).astype(np.uint8)
    features = served.signatures["encode"](frames=tf.constant(frames))["features"]
    for n in (0, 1, 3):  # N = 1: the near frame alone
        out = served.signatures["segment_from_features"](
            query_features=features[:1], reference_features=features[1 : 1 + n],
            output_size=tf.constant([48, 48]))["probabilities"]
        expected = model.segment(features[:1], features[None, 1 : 1 + n] if n else None, output_size=(48, 48))
        np.testing.assert_allclose(out.numpy(), np.asarray(expected)[..., 0], atol=1e-4)
