"""Joint attention over all references: one softmax over every position of every reference (Eq. 6-7)."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from cosnet_tf.layers import COATTENTION_VARIANTS
from tests.conftest import conv_backbone, tiny_cosnet

VARIANT_SETTINGS = [
    ("vanilla", {}),
    ("symmetric", {}),
    ("channel", {}),
    ("vanilla", {"cosine": True, "recurrence_gate": True}),
]


def features(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def layer_of(variant, settings):
    layer = COATTENTION_VARIANTS[variant](**settings)
    layer.build((None, None, None, 8), (None, None, None, 8))
    return layer


@pytest.mark.parametrize("variant, settings", VARIANT_SETTINGS)
def test_one_softmax_over_all_positions_of_all_references(variant, settings):
    layer = layer_of(variant, settings)
    query, references = features(2, 3, 4, 8), features(2, 3, 5, 2, 8, seed=1)
    attention = np.asarray(layer.joint_attention(query, references))
    assert attention.shape == (2, 12, 3 * 10)
    np.testing.assert_allclose(attention.sum(axis=-1), 1.0, atol=1e-5)
    # Not one softmax per reference: each reference's share varies from row to row.
    shares = attention.reshape(2, 12, 3, 10).sum(axis=-1)
    assert not np.allclose(shares, 1.0 / 3, atol=1e-3)


@pytest.mark.parametrize("variant, settings", VARIANT_SETTINGS)
def test_one_reference_equals_the_pairwise_layer(variant, settings):
    layer = layer_of(variant, settings)
    query, reference = features(2, 3, 4, 8), features(2, 5, 2, 8, seed=1)
    joint = layer.summarize_query_jointly(query, reference[:, None])
    np.testing.assert_allclose(joint, layer.summarize_query(query, reference), atol=1e-5)
    np.testing.assert_allclose(layer.joint_attention(query, reference[:, None]),
                               layer.attention(query, reference), atol=1e-5)


def test_no_match_slot_is_shared_by_all_references():
    layer = layer_of("vanilla", {"cosine": True, "no_match": True, "initial_match_threshold": 0.9})
    query, references = features(1, 3, 3, 8), features(1, 2, 3, 3, 8, seed=1)
    sums = np.asarray(layer.joint_attention(query, references)).sum(axis=-1)
    assert np.all(sums < 1.0) and np.all(sums > 0.0)
    np.testing.assert_allclose(layer.summarize_query_jointly(query, references[:, :1]),
                               layer.summarize_query(query, references[:, 0]), atol=1e-5)


def test_masked_reference_gets_zero_weight():
    layer = layer_of("vanilla", {})
    query, references = features(2, 3, 4, 8), features(2, 3, 5, 2, 8, seed=1)
    mask = np.array([[1, 0, 1], [1, 1, 0]], "float32")
    attention = np.asarray(layer.joint_attention(query, references, mask)).reshape(2, 12, 3, 10)
    assert np.all(attention[0, :, 1] == 0) and np.all(attention[1, :, 2] == 0)
    np.testing.assert_allclose(attention.sum(axis=(-2, -1)), 1.0, atol=1e-5)
    # Sample 0 without its masked reference is the same summary.
    kept = layer.summarize_query_jointly(query[:1], references[:1, [0, 2]])
    np.testing.assert_allclose(layer.summarize_query_jointly(query, references, mask)[:1], kept, atol=1e-5)


def test_bad_references_are_refused_with_the_shape():
    layer = layer_of("vanilla", {})
    with pytest.raises(ValueError, match=r"\[B, N, h, w, C\]"):
        layer.summarize_query_jointly(features(1, 3, 3, 8), features(1, 3, 3, 8))
    with pytest.raises(ValueError, match="channels"):
        layer.summarize_query_jointly(features(1, 3, 3, 8), features(1, 2, 3, 3, 4))


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(7)
    return tiny_cosnet("vanilla", backbone=conv_backbone())


@pytest.fixture(scope="module")
def encoded(model):
    frames = np.random.default_rng(3).uniform(0, 255, (4, 64, 64, 3)).astype("float32")
    encoded = np.asarray(model.encode(frames))
    return encoded[:1], encoded[None, 1:]  # a query and its three references


def test_model_with_one_reference_joint_equals_attention_fusion(model, encoded):
    query, references = encoded
    joint = model.segment(query, references[:, :1], output_size=(64, 64), fusion="joint")
    pairwise = model.segment(query, references[:, :1], output_size=(64, 64), fusion="attention")
    np.testing.assert_allclose(joint, pairwise, atol=1e-5)
    # Three references: another summary than the mean of three (the references matter).
    joint3 = model.segment(query, references, output_size=(64, 64), fusion="joint")
    mean3 = model.segment(query, references, output_size=(64, 64), fusion="attention")
    assert np.abs(np.asarray(joint3) - np.asarray(mean3)).max() > 1e-4


@pytest.mark.parametrize("fusion", ["joint", "attention"])
def test_padded_or_absent_reference_is_as_if_not_there(model, encoded, fusion):
    query, references = encoded
    padded = np.concatenate([references[:, :2], np.zeros_like(references[:, :1])], axis=1)
    with_mask = model.segment(query, padded, output_size=(64, 64), fusion=fusion, reference_mask=[[1, 1, 0]])
    without = model.segment(query, references[:, :2], output_size=(64, 64), fusion=fusion)
    np.testing.assert_allclose(with_mask, without, atol=1e-5)
    # Every reference absent: the frame-by-frame baseline (N = 0).
    absent = model.segment(query, references, output_size=(64, 64), fusion=fusion, reference_mask=[[0, 0, 0]])
    np.testing.assert_allclose(absent, model.segment(query, None, output_size=(64, 64)), atol=1e-5)


def test_prediction_fusion_refuses_a_mask(model, encoded):
    with pytest.raises(ValueError, match="reference_mask"):
        model.segment(*encoded, fusion="prediction", reference_mask=[[1, 1, 1]])


def test_dynamic_n_in_one_graph(model, encoded):
    query, references = encoded
    signature = [tf.TensorSpec((None,) + query.shape[1:]), tf.TensorSpec((1, None) + references.shape[2:])]
    joint = tf.function(lambda q, r: model.segment(q, r, output_size=(64, 64), fusion="joint"),
                        input_signature=signature)
    for n in (1, 2, 3):
        expected = model.segment(query, references[:, :n], output_size=(64, 64), fusion="joint")
        np.testing.assert_allclose(joint(query, references[:, :n]), expected, atol=1e-5)
    # N = 0 at run time: the baseline.
    np.testing.assert_allclose(joint(query, references[:, :0]), model.segment(query, None, output_size=(64, 64)),
                               atol=1e-5)


def test_group_forward_trains_with_the_models_joint_fusion():
    keras.utils.set_random_seed(2)
    model = tiny_cosnet("symmetric", backbone=conv_backbone(), reference_fusion="joint")
    frames = np.random.default_rng(4).uniform(0, 255, (1, 3, 64, 64, 3)).astype("float32")
    grouped = np.asarray(model.group_forward(frames, training=False))
    features = np.asarray(model.encode(frames[0]))
    for i in range(3):
        others = features[[j for j in range(3) if j != i]][None]
        expected = model.segment(features[i : i + 1], others, output_size=(64, 64))  # the model's fusion
        np.testing.assert_allclose(grouped[:, i], expected, atol=1e-5)
    assert len(model.coattention.losses) == 1  # Eq. 12 still reaches the training loss


def test_reference_fusion_saves_and_loads(tmp_path, encoded):
    keras.utils.set_random_seed(7)
    model = tiny_cosnet("channel", backbone=conv_backbone(), reference_fusion="joint")
    assert model.get_config()["reference_fusion"] == "joint"
    query, references = encoded
    path = tmp_path / "joint.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    assert loaded.reference_fusion == "joint"
    np.testing.assert_allclose(loaded.segment(query, references, output_size=(64, 64)),
                               model.segment(query, references, output_size=(64, 64), fusion="joint"), atol=1e-5)
    with pytest.raises(ValueError, match="reference_fusion"):
        tiny_cosnet("vanilla", backbone=conv_backbone(), reference_fusion="max")


def test_from_preset_takes_reference_fusion():
    from cosnet_tf import COSNet
    from tests.conftest import TINY_BACKBONE

    model = COSNet.from_preset("mobilenetv2", backbone_config=TINY_BACKBONE, head_filters=16,
                               reference_fusion="joint")
    assert model.reference_fusion == "joint"


def test_cosnet_train_selects_joint_attention_for_its_groups():
    from cosnet_tf.cli.main import build_parser
    from cosnet_tf.cli.train_command import config_from_args
    from cosnet_tf.training.run import build_trainer
    from tests.conftest import TINY_BACKBONE

    args = build_parser().parse_args(["train", "--davis-root", "x", "--reference-fusion", "joint",
                                      "--model-config", f'{{"backbone_config": {TINY_BACKBONE}, "head_filters": 16}}'
                                      .replace("'", '"')])
    config = config_from_args(args)
    assert config.model["reference_fusion"] == "joint"
    trainer = build_trainer(config)
    assert trainer.reference_fusion == "joint"
    assert trainer.to_inference_model().reference_fusion == "joint"  # what gets shipped segments jointly
