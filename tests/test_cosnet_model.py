"""The Siamese model, the cached multi-reference inference path, presets and saving."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from cosnet_tf import COSNet
from cosnet_tf.losses import WeightedBinaryCrossentropy
from tests.conftest import REORDERED_FLOAT32_ATOL, conv_backbone, random_frames, tiny_backbone, tiny_cosnet

VARIANTS = ["vanilla", "symmetric", "channel", None]


@pytest.mark.parametrize("variant", VARIANTS)
def test_siamese_outputs(variant):
    model = tiny_cosnet(variant, backbone=conv_backbone())
    frames_a, frames_b = random_frames(2, 61, 83, 1), random_frames(2, 61, 83, 2)
    out = model({"frame_a": frames_a, "frame_b": frames_b})
    assert sorted(out) == ["pred_a", "pred_b", "saliency_a", "saliency_b"]
    for value in out.values():
        assert value.shape == (2, 61, 83, 1)
        assert 0.0 <= float(np.min(value)) and float(np.max(value)) <= 1.0
    # A tuple works too and gives the same result.
    np.testing.assert_allclose(model((frames_a, frames_b))["pred_a"], out["pred_a"], atol=1e-6)


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradients_reach_every_trainable_weight(variant):
    model = tiny_cosnet(variant, coattention_config={"orthogonality_weight": 1e-4} if variant == "symmetric" else None)
    frames = random_frames(2, 48, 48, 3), random_frames(2, 48, 48, 4)
    masks = (np.random.default_rng(0).uniform(size=(2, 48, 48, 1)) > 0.6).astype("float32")
    loss_fn = WeightedBinaryCrossentropy()
    with tf.GradientTape() as tape:
        out = model({"frame_a": frames[0], "frame_b": frames[1]}, training=True)
        loss = sum(loss_fn(masks, out[k]) for k in out) + sum(model.losses)
    grads = tape.gradient(loss, model.trainable_weights)
    starved = [w.path for w, g in zip(model.trainable_weights, grads) if g is None or not np.any(g.numpy())]
    assert not starved, f"no gradient reaches {starved}"
    if variant == "symmetric":
        assert len(model.losses) == 1


@pytest.mark.parametrize("variant", ["vanilla", "channel"])
def test_summary_enters_the_heads_at_zero(variant):
    model = tiny_cosnet(variant, summary_weights=False, backbone=conv_backbone())
    channels = model.feature_channels
    for head in (model.head_a, model.head_b):
        kernel = head.convs[0].kernel.numpy()
        assert not kernel[:, :, :channels].any() and kernel[:, :, channels:].any()
    # A new model predicts from V alone: references change nothing yet ...
    frames = random_frames(3, 48, 48, 2)
    features = model.encode(frames)
    alone = model.segment(features[:1], None, output_size=(48, 48))
    with_refs = model.segment(features[:1], features[None, 1:], output_size=(48, 48))
    np.testing.assert_allclose(alone, with_refs, atol=1e-6)
    # ... and one gradient step gives the summary weights values, so the co-attention learns from then on.
    masks = (np.random.default_rng(0).uniform(size=(2, 48, 48, 1)) > 0.6).astype("float32")
    with tf.GradientTape() as tape:
        out = model({"frame_a": frames[:2], "frame_b": frames[1:]}, training=True)
        loss = WeightedBinaryCrossentropy()(masks, out["pred_a"])
    grad = tape.gradient(loss, model.head_a.convs[0].kernel)
    assert np.any(grad.numpy()[:, :, :channels])


@pytest.mark.parametrize("variant", ["vanilla", "symmetric", "channel"])
def test_cached_prediction_fusion_equals_pairwise_siamese(variant):
    model = tiny_cosnet(variant, backbone=conv_backbone())
    query = random_frames(1, 64, 80, 10)
    references = random_frames(3, 64, 80, 11)
    pairwise = np.mean(
        [model({"frame_a": query, "frame_b": references[i : i + 1]})["pred_a"] for i in range(3)],
        axis=0,
    )
    q = model.encode(query)
    r = model.encode(references)[None]
    cached = model.segment(q, r, output_size=(64, 80), fusion="prediction")
    assert float(np.std(pairwise)) > 1e-3, "degenerate model: the test would prove nothing"
    # float32 sums taken in another order (the pair computes both summaries, segment only Z_a).
    np.testing.assert_allclose(cached, pairwise, atol=REORDERED_FLOAT32_ATOL)
    # One reference: both fusions are the Siamese prediction itself.
    single = model({"frame_a": query, "frame_b": references[:1]})["pred_a"]
    np.testing.assert_allclose(
        model.segment(q, r[:, :1], output_size=(64, 80)), single, atol=REORDERED_FLOAT32_ATOL
    )


def test_attention_fusion_is_eq_13_and_differs_from_prediction_fusion():
    model = tiny_cosnet("vanilla", backbone=conv_backbone())
    q = model.encode(random_frames(1, 64, 64, 20))
    r = model.encode(random_frames(4, 64, 64, 21))[None]
    summaries = model.gated_summaries(q, r)
    expected = model.head_a(
        np.concatenate([np.mean(summaries, axis=0), q], axis=-1), output_size=(64, 64)
    )
    attention = model.segment(q, r, output_size=(64, 64), fusion="attention")
    prediction = model.segment(q, r, output_size=(64, 64), fusion="prediction")
    np.testing.assert_allclose(attention, expected, atol=1e-6)
    assert float(np.std(attention)) > 1e-3, "degenerate model: the test would prove nothing"
    assert np.abs(np.asarray(attention) - np.asarray(prediction)).max() > 1e-4


def test_zero_references_is_the_frame_by_frame_baseline():
    model = tiny_cosnet("vanilla", backbone=conv_backbone())
    q = model.encode(random_frames(2, 64, 64, 30))
    zero = model.head_a(np.concatenate([np.zeros_like(q), q], axis=-1), output_size=(64, 64))
    np.testing.assert_allclose(model.segment(q, None, output_size=(64, 64)), zero, atol=1e-6)
    empty = np.zeros((2, 0) + tuple(q.shape[1:]), "float32")
    np.testing.assert_allclose(model.segment(q, empty, output_size=(64, 64)), zero, atol=1e-6)
    # Without a co-attention module the head reads V alone and references are ignored.
    plain = tiny_cosnet(None, backbone=conv_backbone())
    q = plain.encode(random_frames(1, 64, 64, 31))
    r = plain.encode(random_frames(2, 64, 64, 32))[None]
    np.testing.assert_allclose(plain.segment(q, r), plain.segment(q), atol=1e-6)


def test_segment_and_encode_errors_name_the_argument():
    model = tiny_cosnet("vanilla", backbone=conv_backbone())
    q = model.encode(random_frames(1, 32, 32))
    with pytest.raises(ValueError, match="reference_features"):
        model.segment(q, q)  # rank 4 where [B, N, h, w, C] is needed
    with pytest.raises(ValueError, match="query_features"):
        model.segment(q[..., :3])
    with pytest.raises(ValueError, match="fusion"):
        model.segment(q, None, fusion="max")
    with pytest.raises(ValueError, match="frames"):
        model.encode(np.zeros((1, 32, 32), "float32"))
    with pytest.raises(ValueError, match="frame_b"):
        model({"frame_a": random_frames(1, 32, 32)})
    with pytest.raises(ValueError, match="co-attention variant"):
        COSNet(tiny_backbone(), coattention="cross")


def _assert_round_trip(model, path, frames):
    before = model({"frame_a": frames[:1], "frame_b": frames[1:]})
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model)
    assert restored.get_config() == model.get_config()
    after = restored({"frame_a": frames[:1], "frame_b": frames[1:]})
    for key in before:
        np.testing.assert_array_equal(np.asarray(after[key]), np.asarray(before[key]))
    return restored


# Every variant on one backbone, every backbone with one variant: a variant's layers and a
# backbone serialize independently of each other.
@pytest.mark.parametrize("preset,variant", [*(("mobilenetv2", v) for v in VARIANTS), ("resnet50", "vanilla")])
def test_keras_round_trip_presets(preset, variant, tmp_path):
    overrides = {"coattention": variant}
    if preset == "resnet50":  # narrow ASPP keeps the file small; the structure is the preset's
        overrides["backbone_config"] = {"aspp_filters": 32, "output_filters": 32}
        overrides["head_filters"] = 32
    model = COSNet.from_preset(preset, **overrides)
    restored = _assert_round_trip(model, tmp_path / "model.keras", random_frames(2, 40, 56, 5))
    if preset == "mobilenetv2" and variant == "vanilla":  # from_preset also takes a saved model
        assert COSNet.from_preset(str(tmp_path / "model.keras")).get_config() == restored.get_config()


def test_keras_round_trip_with_mid_level_features_and_recurrence_gate(tmp_path):
    model = COSNet.from_preset(
        "mobilenetv2", coattention="vanilla", coattention_config={"cosine": True, "recurrence_gate": True},
        backbone_config={"alpha": 0.35, "output_stride": 8, "mid_level_block": 12,
                         "aspp_filters": 16, "output_filters": 16},
        head_filters=16,
    )
    assert model.feature_channels == 16 + 32  # the ASPP output and block 12's 32 channels (alpha 0.35)
    restored = _assert_round_trip(model, tmp_path / "model.keras", random_frames(2, 40, 56, 5))
    assert restored.backbone.mid_level_block == 12


@pytest.mark.slow  # an 81M-parameter model saved and loaded
def test_resnet101_official_parameter_count_and_round_trip(tmp_path):
    model = COSNet.from_preset("resnet101_official")
    _assert_round_trip(model, tmp_path / "official.keras", random_frames(2, 33, 41, 6))
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    total = sum(int(np.prod(w.shape)) for w in model.weights)
    # PyTorch's model.parameters() count, and with the batch-norm running statistics.
    assert trainable == 81_242_436
    assert total == 81_354_436


def test_presets_and_overrides():
    from cosnet_tf.models import PRESETS

    assert set(PRESETS) == {"resnet101_official", "resnet50", "mobilenetv2"}
    model = COSNet.from_preset(
        "mobilenetv2",
        coattention="channel",
        coattention_config={"hidden_units": 64},
        backbone_config={"output_stride": 16},
        head_depth=2,
    )
    assert model.coattention_variant == "channel"
    assert model.coattention.hidden_units == 64
    assert model.backbone.output_stride == 16
    assert len(model.head_a.convs) == 2
    with pytest.raises(ValueError, match="Unknown COSNet preset"):
        COSNet.from_preset("vgg16")
    with pytest.raises(FileNotFoundError, match="nowhere.keras"):
        COSNet.from_preset("nowhere.keras")


def test_backbone_outputs_are_read_by_name():
    images = keras.Input((None, None, 3))
    features = keras.layers.Conv2D(8, 3, strides=8, padding="same")(images)
    single = COSNet(keras.Model(images, features), head_filters=8)  # one output: the embedding
    assert single.attention_channels == single.feature_channels == 8 and single.low_level_channels == 0
    assert single.encode(random_frames(1, 32, 32)).shape == (1, 4, 4, 8)
    with pytest.raises(ValueError, match="embedding"):
        COSNet(keras.Model(images, {"features": features}), head_filters=8)
    with pytest.raises(ValueError, match="coarse"):
        COSNet(keras.Model(images, {"embedding": features, "coarse": features}), head_filters=8)
