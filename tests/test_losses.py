"""Eq. 11 and Eq. 12 against NumPy."""
import keras
import numpy as np
import pytest

from cosnet_tf.losses import WeightedBinaryCrossentropy, orthogonality_penalty


def reference_eq_11(y, p):
    """Class-balanced BCE, eta the foreground share of the whole batch, pixel mean."""
    eta = y.sum() / y.size
    per_pixel = -((1 - eta) * y * np.log(p) + eta * (1 - y) * np.log(1 - p))
    return per_pixel.mean()


def test_weighted_bce_matches_numpy():
    rng = np.random.default_rng(0)
    y = (rng.uniform(size=(3, 9, 11, 1)) > 0.8).astype("float32")
    p = rng.uniform(0.01, 0.99, size=y.shape).astype("float32")
    np.testing.assert_allclose(float(WeightedBinaryCrossentropy()(y, p)), reference_eq_11(y, p), rtol=1e-5)
    logits = np.log(p / (1 - p))
    np.testing.assert_allclose(
        float(WeightedBinaryCrossentropy(from_logits=True)(y, logits)), reference_eq_11(y, p), rtol=1e-4
    )


def test_weighted_bce_balances_the_classes():
    # With 10% foreground, missing the foreground costs as much as missing the background.
    y = np.zeros((1, 10, 10, 1), "float32")
    y[0, :1] = 1
    loss = WeightedBinaryCrossentropy()
    all_bg = np.full_like(y, 0.1)
    all_fg = np.full_like(y, 0.9)
    np.testing.assert_allclose(float(loss(y, all_bg)), float(loss(y, all_fg)), rtol=1e-5)


def test_weighted_bce_serializes():
    loss = WeightedBinaryCrossentropy(from_logits=True)
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, WeightedBinaryCrossentropy) and restored.from_logits


@pytest.mark.parametrize("weight", [1e-4, 1.0])
def test_orthogonality_penalty(weight):
    p = np.random.default_rng(1).normal(size=(6, 6)).astype("float32")
    expected = weight * np.linalg.norm(p @ p.T - np.eye(6))
    np.testing.assert_allclose(float(orthogonality_penalty(p, weight)), expected, rtol=1e-5)
    q, _ = np.linalg.qr(p)
    assert float(orthogonality_penalty(q.astype("float32"), weight)) < 1e-5 * max(weight, 1)


def test_class_balance_knob_spans_eq_11_to_plain_cross_entropy():
    from cosnet_tf.losses import WeightedBinaryCrossentropy

    rng = np.random.default_rng(0)
    y_true = (rng.uniform(size=(2, 8, 8, 1)) > 0.8).astype("float32")
    y_pred = rng.uniform(0.05, 0.95, size=(2, 8, 8, 1)).astype("float32")
    eta = y_true.mean()
    ce_fg = -y_true * np.log(y_pred)
    ce_bg = -(1 - y_true) * np.log(1 - y_pred)
    for balance in (1.0, 0.5, 0.0):
        e = balance * eta + 0.5 * (1 - balance)
        expected = ((1 - e) * ce_fg + e * ce_bg).mean(axis=(1, 2, 3))
        loss = WeightedBinaryCrossentropy(balance=balance, reduction=None)(y_true, y_pred)
        np.testing.assert_allclose(loss, expected, rtol=1e-5)
    assert WeightedBinaryCrossentropy(balance=0.25).get_config()["balance"] == 0.25
    with pytest.raises(ValueError, match="balance"):
        WeightedBinaryCrossentropy(balance=1.5)
