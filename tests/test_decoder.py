"""The low-level decoder: `PackToGrid`, the backbone's `low_level_block`, the head's decoder, COSNet."""
import keras
import numpy as np
import pytest
from keras import ops

from cosnet_tf import COSNet
from cosnet_tf.backbones import MobileNetV2DeepLabV3Backbone
from cosnet_tf.inference import explain_frame
from cosnet_tf.layers import PackToGrid, SegmentationHead
from tests.conftest import give_summary_weights, random_frames


def decoder_backbone(output_stride=8):
    return MobileNetV2DeepLabV3Backbone(
        alpha=0.35, output_stride=output_stride, aspp_filters=8, output_filters=8, mid_level_block=12,
        low_level_block=2, name="backbone",
    )


def decoder_cosnet(coattention="vanilla"):
    model = COSNet(
        decoder_backbone(), coattention=coattention, coattention_config={"cosine": True, "recurrence_gate": True},
        head_filters=16, decoder_filters=8,
    )
    return give_summary_weights(model) if coattention else model


@pytest.mark.parametrize("size", [(12, 16), (13, 7)])
def test_pack_to_grid_is_zero_padding_then_space_to_depth(size):
    fine = np.random.default_rng(0).normal(size=(2, *size, 3)).astype("float32")
    layer = PackToGrid(factor=2)
    packed = layer(fine)
    assert tuple(packed.shape) == layer.compute_output_shape(fine.shape) == (2, 7 if size[0] == 13 else 6,
                                                                             8 if size[1] == 16 else 4, 12)
    unpacked = np.asarray(ops.depth_to_space(packed, 2))
    np.testing.assert_array_equal(unpacked[:, : size[0], : size[1]], fine)
    assert not unpacked[:, size[0]:].any() and not unpacked[:, :, size[1]:].any()
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert clone.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="factor"):
        PackToGrid(factor=0)


@pytest.mark.parametrize("output_stride, factor", [(8, 2), (16, 4)])
def test_low_level_block_is_a_named_output_packed_onto_the_output_grid(output_stride, factor):
    backbone = decoder_backbone(output_stride)
    frames = random_frames(1, 70, 90, 4)
    outputs = backbone(frames)
    block = keras.Model(backbone.input, backbone.get_layer("block_2_add").output)(frames)  # stride 4, 8 channels
    assert sorted(outputs) == ["embedding", "low_level"]
    assert backbone.low_level_factor == factor and outputs["low_level"].shape[-1] == 8 * factor**2
    grid = (-(-70 // output_stride), -(-90 // output_stride))
    assert outputs["embedding"].shape[1:3] == outputs["low_level"].shape[1:3] == grid
    np.testing.assert_array_equal(np.asarray(outputs["low_level"]), np.asarray(PackToGrid(factor)(block)))
    clone = MobileNetV2DeepLabV3Backbone.from_config(backbone.get_config())
    assert clone.get_config() == backbone.get_config() and clone.output["low_level"].shape[-1] == 8 * factor**2
    plain = MobileNetV2DeepLabV3Backbone(alpha=0.35, output_stride=8, aspp_filters=8, output_filters=8)
    assert sorted(plain.output) == ["embedding"] and plain.get_config()["low_level_block"] is None


def test_low_level_block_must_be_finer_than_the_output_grid():
    with pytest.raises(ValueError, match="low_level_block.*stride 8.*blocks 0-2"):
        MobileNetV2DeepLabV3Backbone(alpha=0.35, output_stride=8, low_level_block=7)
    with pytest.raises(ValueError, match="low_level_block"):
        MobileNetV2DeepLabV3Backbone(alpha=0.35, output_stride=8, low_level_block=17)


def test_head_decoder_draws_at_the_finer_stride():
    """A change in one low-level cell moves the output only within the decoder's reach of that cell."""
    head = SegmentationHead(filters=8, decoder_filters=4, low_level_filters=4, low_level_factor=2)
    rng = np.random.default_rng(1)
    features = rng.normal(size=(1, 5, 6, 12)).astype("float32")
    fine = rng.normal(size=(1, 10, 12, 3)).astype("float32")
    before = np.asarray(head(features, low_level=PackToGrid(2)(fine), return_logits=True))
    assert before.shape == (1, 10, 12, 1)  # the fine grid, not the features' 5x6
    fine[0, 4, 7] += 5.0
    after = np.asarray(head(features, low_level=PackToGrid(2)(fine), return_logits=True))
    changed = np.argwhere(np.abs(after - before)[0, ..., 0] > 1e-6)
    assert len(changed) and (np.abs(changed - [4, 7]) <= 1).all()  # the 3x3 decoder convolution's reach
    with pytest.raises(ValueError, match="low_level"):
        head(features)
    config = head.get_config()
    assert SegmentationHead.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="decoder_filters"):
        SegmentationHead(decoder_filters=-1)


@pytest.mark.parametrize("depth, decoder_filters, first", [(1, 4, "conv1"), (0, 4, "decoder_conv"), (0, 0, "classifier")])
def test_head_first_layer_and_its_leading_input_mask(depth, decoder_filters, first):
    """`first_layer` is the layer that reads the head's input, and `leading_input_mask(c)` marks
    the weights on the input's first c channels: exactly the ones a change there moves."""
    head = SegmentationHead(filters=8, depth=depth, decoder_filters=decoder_filters, low_level_filters=4,
                            low_level_factor=2)
    rng = np.random.default_rng(0)
    features = rng.normal(size=(1, 5, 6, 12)).astype("float32")
    low_level = PackToGrid(2)(rng.normal(size=(1, 10, 12, 3)).astype("float32")) if decoder_filters else None
    head(features, low_level=low_level)
    assert head.first_layer.name == first
    mask = head.leading_input_mask(5)
    assert mask.shape == tuple(head.first_layer.kernel.shape)
    assert (mask[:, :, :5] == 1).all() and (mask[:, :, 5:] == 0).all()
    kernel = head.first_layer.kernel
    kernel.assign(np.asarray(kernel) * (1.0 - mask))  # the weights on channels 0-4 gone
    before = np.asarray(head(features, low_level=low_level, return_logits=True))
    features[..., :5] += 3.0
    np.testing.assert_allclose(head(features, low_level=low_level, return_logits=True), before, atol=1e-5)
    features[..., 5] += 3.0
    assert not np.allclose(head(features, low_level=low_level, return_logits=True), before, atol=1e-5)


def test_low_level_channels_reach_the_decoder_and_not_the_coattention(tmp_path):
    model = decoder_cosnet()
    c = model.attention_channels
    assert c == 8 + 32 and model.feature_channels == c + model.low_level_channels == c + 32
    assert tuple(model.coattention.kernel.shape) == (c, c)
    frames = random_frames(3, 64, 72, 2)
    features = np.asarray(model.encode(frames))
    query, refs = features[:1], features[1:][None]
    moved = refs.copy()
    moved[..., c:] += 3.0  # the references' low-level part
    for a, b in zip(model.gated_summaries(query, refs), model.gated_summaries(query, moved)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with_refs = np.asarray(model.segment(query, refs, output_size=(64, 72)))
    np.testing.assert_allclose(model.segment(query, moved, output_size=(64, 72)), with_refs, atol=1e-6)
    # N = 0 is the head on X = [0, V] with the query's own low-level features.
    zero = model.head_a(
        np.concatenate([np.zeros_like(query[..., :c]), query[..., :c]], axis=-1), low_level=query[..., c:],
        output_size=(64, 72),
    )
    np.testing.assert_allclose(model.segment(query, None, output_size=(64, 72)), zero, atol=1e-6)
    query_moved = query.copy()
    query_moved[..., c:] += 3.0
    assert np.abs(np.asarray(model.segment(query_moved, refs, output_size=(64, 72))) - with_refs).max() > 1e-3
    out = model({"frame_a": frames[:1], "frame_b": frames[1:2]})
    assert out["pred_a"].shape == out["saliency_a"].shape == (1, 64, 72, 1)
    path = tmp_path / "decoder.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.get_config() == model.get_config() and restored.low_level_channels == 32
    np.testing.assert_array_equal(np.asarray(restored.segment(query, refs, output_size=(64, 72))), with_refs)


def test_explain_and_twin_with_a_decoder():
    video = random_frames(4, 48, 64, 3).astype("uint8")
    result = explain_frame(decoder_cosnet(), video, frame_index=1, num_references=2)
    np.testing.assert_allclose(result.attention.sum(axis=(2, 3)), 1.0, atol=1e-4)
    twin = decoder_cosnet(None)
    assert twin.head_a.decoder_filters == 8
    assert twin.segment(twin.encode(video[:1].astype("float32")), None, output_size=(48, 64)).shape == (1, 48, 64, 1)


@pytest.mark.slow  # a SavedModel export and load
def test_saved_model_of_a_decoder_model_matches_keras(tmp_path):
    import tensorflow as tf

    from cosnet_tf.export import export_saved_model
    from cosnet_tf.inference import InferenceCore

    model = decoder_cosnet()
    model.inference_size = (64, 64)
    export_saved_model(model, str(tmp_path / "exported"))
    loaded = tf.saved_model.load(str(tmp_path / "exported" / "1"))
    frames = random_frames(3, 48, 56, 7).astype("uint8")
    out = loaded.signatures["serving_default"](query=tf.constant(frames[0]), references=tf.constant(frames[1:]))
    # What `cosnet segment` gives in process.
    core = InferenceCore(model)
    features = core.encode(frames)
    expected = core.segment(features[:1], core.stack_references(features[1:]), (48, 56))
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-4)
