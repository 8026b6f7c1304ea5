"""Co-attention layers against a plain NumPy implementation of Eq. 1-10."""
import keras
import numpy as np
import pytest

from cosnet_tf.layers import (
    ChannelCoAttention,
    CoAttentionGate,
    SymmetricCoAttention,
    VanillaCoAttention,
)


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def reference_coattention(v_a, v_b, w):
    """Eq. 1, 6, 7 exactly as the paper writes them, one sample at a time.

    V is C x WH (columns are positions), S = V_b^T W V_a is WH_b x WH_a,
    S^c = softmax(S) normalises each column, S^r = softmax(S^T) likewise,
    Z_a = V_b S^c and Z_b = V_a S^r.
    """
    z_a, z_b = [], []
    for a, b in zip(v_a, v_b):
        va = a.reshape(-1, a.shape[-1]).T.astype(np.float64)
        vb = b.reshape(-1, b.shape[-1]).T.astype(np.float64)
        s = vb.T @ w @ va
        s_c = softmax(s, axis=0)
        s_r = softmax(s.T, axis=0)
        z_a.append((vb @ s_c).T.reshape(a.shape))
        z_b.append((va @ s_r).T.reshape(b.shape))
    return np.stack(z_a), np.stack(z_b)


def reference_gate(z, w_f, b_f=0.0):
    """Eq. 8-9: Z * sigmoid(w_f Z + b_f), one confidence per position."""
    conf = 1.0 / (1.0 + np.exp(-(z @ w_f + b_f)))
    return z * conf


@pytest.fixture
def features():
    rng = np.random.default_rng(7)
    v_a = rng.normal(0, 0.5, (2, 5, 6, 8)).astype("float32")
    v_b = rng.normal(0, 0.5, (2, 4, 7, 8)).astype("float32")  # another size on purpose
    return v_a, v_b


def test_vanilla_matches_numpy_eq_1_to_7(features):
    v_a, v_b = features
    layer = VanillaCoAttention()
    layer.build(v_a.shape, v_b.shape)
    w = np.random.default_rng(1).normal(0, 0.3, (8, 8)).astype("float32")
    layer.kernel.assign(w)
    z_a, z_b = layer(v_a, v_b)
    ref_a, ref_b = reference_coattention(v_a, v_b, w)
    np.testing.assert_allclose(z_a, ref_a, atol=1e-5)
    np.testing.assert_allclose(z_b, ref_b, atol=1e-5)


def test_symmetric_equals_explicit_w_equal_pt_d_p(features):
    v_a, v_b = features
    layer = SymmetricCoAttention(orthogonality_weight=0.0)
    layer.build(v_a.shape, v_b.shape)
    rng = np.random.default_rng(2)
    p = rng.normal(0, 0.4, (8, 8)).astype("float32")
    d = rng.uniform(0.2, 1.5, (8,)).astype("float32")
    layer.projection.assign(p)
    layer.diagonal.assign(d)
    w = p.T @ np.diag(d) @ p  # Eq. 4
    np.testing.assert_allclose(layer.weight_matrix, w, atol=1e-5)
    z_a, z_b = layer(v_a, v_b)
    ref_a, ref_b = reference_coattention(v_a, v_b, w)
    np.testing.assert_allclose(z_a, ref_a, atol=1e-5)
    np.testing.assert_allclose(z_b, ref_b, atol=1e-5)
    # ... and equals a vanilla layer holding that W.
    vanilla = VanillaCoAttention()
    vanilla.build(v_a.shape, v_b.shape)
    vanilla.kernel.assign(w)
    np.testing.assert_allclose(vanilla(v_a, v_b)[0], z_a, atol=1e-5)


def test_channel_equals_diagonal_w(features):
    v_a, v_b = features
    layer = ChannelCoAttention()
    z_a, z_b = layer(v_a, v_b)
    d_a = layer.channel_weights(v_a).numpy()
    d_b = layer.channel_weights(v_b).numpy()
    for i in range(len(v_a)):
        # Eq. 5: S = (D_a V_b)^T (D_b V_a) = V_b^T diag(d_a d_b) V_a.
        w = np.diag(d_a[i] * d_b[i])
        ref_a, ref_b = reference_coattention(v_a[i : i + 1], v_b[i : i + 1], w)
        np.testing.assert_allclose(z_a[i : i + 1], ref_a, atol=1e-5)
        np.testing.assert_allclose(z_b[i : i + 1], ref_b, atol=1e-5)


def test_channel_weights_come_from_squeeze_excitation(features):
    v_a, _ = features
    layer = ChannelCoAttention(hidden_units=4)
    layer(v_a, v_a)
    pooled = v_a.mean(axis=(1, 2))
    hidden = np.maximum(pooled @ layer.squeeze_kernel.numpy() + layer.squeeze_bias.numpy(), 0)
    expected = 1 / (1 + np.exp(-(hidden @ layer.excite_kernel.numpy() + layer.excite_bias.numpy())))
    np.testing.assert_allclose(layer.channel_weights(v_a), expected, atol=1e-6)


@pytest.mark.parametrize("cls", [VanillaCoAttention, SymmetricCoAttention, ChannelCoAttention])
def test_summarize_query_equals_first_output(cls, features):
    v_a, v_b = features
    layer = cls()
    z_a, _ = layer(v_a, v_b)
    np.testing.assert_allclose(layer.summarize_query(v_a, v_b), z_a, atol=1e-6)


def test_gate_matches_numpy_eq_8_9():
    rng = np.random.default_rng(3)
    z = rng.normal(0, 1, (2, 3, 4, 8)).astype("float32")
    gate = CoAttentionGate(use_bias=True)
    gate.build(z.shape)
    w_f = rng.normal(0, 0.5, (8, 1)).astype("float32")
    gate.kernel.assign(w_f)
    gate.bias.assign([0.3])
    gated, confidence = gate(z, return_confidence=True)
    np.testing.assert_allclose(gated, reference_gate(z, w_f, 0.3), atol=1e-6)
    assert confidence.shape == (2, 3, 4, 1)
    assert float(np.min(confidence)) > 0 and float(np.max(confidence)) < 1


def test_concatenation_eq_10_is_what_the_head_reads():
    """Eq. 10 X = [Z, V]: the model concatenates the gated summary first."""
    from tests.conftest import conv_backbone, tiny_cosnet

    model = tiny_cosnet("vanilla", backbone=conv_backbone())
    v = model.encode(np.random.uniform(0, 255, (1, 64, 64, 3)).astype("float32"))
    z = model.gated_summaries(v, v[:, None])[0]
    direct = model.head_a(np.concatenate([z, v], axis=-1), output_size=(64, 64))
    np.testing.assert_allclose(model.segment(v, v[:, None], output_size=(64, 64)), direct, atol=1e-6)


@pytest.mark.parametrize(
    "layer",
    [
        VanillaCoAttention(),
        SymmetricCoAttention(orthogonality_weight=3e-4),
        ChannelCoAttention(hidden_units=6),
        CoAttentionGate(use_bias=False),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_get_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer)
    assert restored.get_config() == config


def test_symmetric_orthogonality_penalty_uses_add_loss(features):
    v_a, v_b = features
    layer = SymmetricCoAttention(orthogonality_weight=0.5)
    layer.build(v_a.shape, v_b.shape)
    p = np.random.default_rng(4).normal(0, 1, (8, 8)).astype("float32")
    layer.projection.assign(p)
    layer(v_a, v_b)
    assert len(layer.losses) == 1
    expected = 0.5 * np.linalg.norm(p @ p.T - np.eye(8))
    np.testing.assert_allclose(float(layer.losses[0]), expected, rtol=1e-5)
    # An orthogonal P costs nothing.
    q, _ = np.linalg.qr(p)
    layer.projection.assign(q.astype("float32"))
    layer(v_a, v_b)
    assert float(layer.losses[0]) < 1e-4


def test_shape_errors_are_clear(features):
    v_a, v_b = features
    layer = VanillaCoAttention()
    with pytest.raises(ValueError, match="channels"):
        layer(v_a, v_b[..., :4])
    with pytest.raises(ValueError, match="NHWC"):
        layer(v_a[0], v_b[0])
    layer(v_a, v_b)
    with pytest.raises(ValueError, match="built for 8 channels"):
        layer(v_a[..., :4], v_b[..., :4])
    with pytest.raises(ValueError, match="orthogonality_weight"):
        SymmetricCoAttention(orthogonality_weight=-1)
    gate = CoAttentionGate()
    gate(v_a)
    with pytest.raises(ValueError, match="built for 8 channels"):
        gate(v_a[..., :4])


@pytest.mark.parametrize("cls", [VanillaCoAttention, SymmetricCoAttention, ChannelCoAttention])
def test_cosine_affinity_is_centred_unit_similarity_times_a_learned_scale(cls, features):
    v_a, v_b = features
    layer = cls(cosine=True, initial_temperature=7.0)
    layer.build(v_a.shape, v_b.shape)
    assert any("log_temperature" in w.path for w in layer.trainable_weights)
    np.testing.assert_allclose(float(layer.temperature), 7.0, rtol=1e-6)

    def unit(v):
        c = v - v.mean(axis=(1, 2), keepdims=True)
        return c / (np.linalg.norm(c, axis=-1, keepdims=True) + 1e-6)

    expected = 7.0 * np.asarray(layer.affinity(unit(v_a), unit(v_b)))
    np.testing.assert_allclose(layer.attention_logits(v_a, v_b), expected, rtol=1e-4, atol=1e-4)
    attention = np.asarray(layer.attention(v_a, v_b))
    np.testing.assert_allclose(attention.sum(-1), 1.0, atol=1e-5)
    # The similarity ignores each position's scale and a vector shared by every position
    # (ASPP's image-pooling branch) ...
    shift = np.random.default_rng(3).normal(0, 5, (1, 1, 1, 8)).astype("float32")
    np.testing.assert_allclose(layer.attention(3.0 * v_a + shift, v_b), attention, atol=1e-4)
    # ... while the summaries still average the raw features (Eq. 7).
    z_a, _ = layer(v_a, v_b)
    flat_b = v_b.reshape(2, -1, 8)
    np.testing.assert_allclose(z_a, (attention @ flat_b).reshape(v_a.shape), atol=1e-5)


def test_cosine_round_trips_and_default_is_the_authors_affinity(features):
    v_a, v_b = features
    layer = VanillaCoAttention(cosine=True, initial_temperature=12.0)
    config = layer.get_config()
    assert config["cosine"] is True and config["initial_temperature"] == 12.0
    assert VanillaCoAttention.from_config(config).get_config() == config
    plain = VanillaCoAttention()
    plain.build(v_a.shape, v_b.shape)
    assert plain.temperature is None
    np.testing.assert_allclose(plain.attention_logits(v_a, v_b), plain.affinity(v_a, v_b))
    # W starts as the identity: the affinity starts as plain feature correlation (Eq. 2-3, P = D = I).
    np.testing.assert_allclose(plain.kernel.numpy(), np.eye(8))
    with pytest.raises(ValueError, match="initial_temperature"):
        VanillaCoAttention(cosine=True, initial_temperature=0.0)


def test_no_match_slot_shrinks_the_summary_of_positions_that_recur_nowhere():
    rng = np.random.default_rng(0)
    v_b = rng.normal(0, 1, (1, 3, 3, 64)).astype("float32")
    # Row 0 of a recurs in b; row 1 is new (random 64-d vectors are nearly orthogonal to b's).
    v_a = np.concatenate([v_b[:, :1], rng.normal(0, 1, (1, 1, 3, 64)).astype("float32")], axis=1)
    layer = VanillaCoAttention(cosine=True, initial_temperature=30.0, no_match=True, initial_match_threshold=0.5)
    attention = np.asarray(layer.attention(v_a, v_b))[0].reshape(2, 3, 9)
    logits = np.asarray(layer.attention_logits(v_a, v_b))[0]
    null = 30.0 * 0.5
    expected = np.exp(logits) / (np.exp(logits).sum(-1, keepdims=True) + np.exp(null))
    np.testing.assert_allclose(attention.reshape(6, 9), expected, rtol=1e-4, atol=1e-6)
    recurring, absent = attention[0].sum(-1), attention[1].sum(-1)
    assert (recurring > 0.9).all() and (absent < 0.1).all()
    z_a, _ = layer(v_a, v_b)
    norms = np.linalg.norm(np.asarray(z_a), axis=-1)[0]
    assert norms[1].max() < 0.2 * norms[0].min()
    assert any("match_threshold" in w.path for w in layer.trainable_weights)
    config = layer.get_config()
    assert config["no_match"] is True
    assert VanillaCoAttention.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="cosine"):
        VanillaCoAttention(no_match=True)


def test_recurrence_gate_scales_each_summary_by_how_well_its_position_recurs():
    rng = np.random.default_rng(0)
    v_b = rng.normal(0, 1, (1, 3, 3, 64)).astype("float32")
    # Row 0 of a recurs in b; row 1 is new (random 64-d vectors are nearly orthogonal to b's).
    v_a = np.concatenate([v_b[:, :1], rng.normal(0, 1, (1, 1, 3, 64)).astype("float32")], axis=1)
    layer = VanillaCoAttention(cosine=True, initial_temperature=30.0, recurrence_gate=True,
                               initial_recurrence_threshold=0.4, initial_recurrence_sharpness=20.0)
    z_a, z_b = layer(v_a, v_b)
    logits = np.asarray(layer.attention_logits(v_a, v_b))[0]  # 30 * cosine, [6, 9]
    attention = np.exp(logits - logits.max(-1, keepdims=True))
    attention /= attention.sum(-1, keepdims=True)
    recurrence = (attention * logits / 30.0).sum(-1, keepdims=True)
    expected = attention @ v_b.reshape(9, 64) / (1.0 + np.exp(-20.0 * (recurrence - 0.4)))
    np.testing.assert_allclose(np.asarray(z_a)[0].reshape(6, 64), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.summarize_query(v_a, v_b), z_a, rtol=1e-5, atol=1e-6)
    norms = np.linalg.norm(np.asarray(z_a), axis=-1)[0]
    assert norms[1].max() < 0.1 * norms[0].min()  # the new row's summaries shrink
    # Both branches are gated: b's positions that recur in a keep their summary.
    assert np.linalg.norm(np.asarray(z_b)[0, 0], axis=-1).min() > 0.5 * norms[0].min()
    names = {w.path.split("/")[-1] for w in layer.trainable_weights}
    assert {"recurrence_threshold", "log_recurrence_sharpness"} <= names
    config = layer.get_config()
    assert config["recurrence_gate"] is True and config["initial_recurrence_threshold"] == 0.4
    assert VanillaCoAttention.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="cosine"):
        VanillaCoAttention(recurrence_gate=True)
    with pytest.raises(ValueError, match="sharpness"):
        VanillaCoAttention(cosine=True, recurrence_gate=True, initial_recurrence_sharpness=0.0)
