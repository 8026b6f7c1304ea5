"""Tests of cosnet_tf.postprocessing: dense CRF refinement on synthetic frames."""
import numpy as np
import pytest

pytest.importorskip("pydensecrf.densecrf", reason="needs pydensecrf2 (pip install pydensecrf2)")

from cosnet_tf.postprocessing import DenseCRF, crf_map, dense_crf  # noqa: E402


def iou(a, b):
    return np.count_nonzero(a & b) / np.count_nonzero(a | b)


def synthetic_frame(seed=0, height=64, width=80):
    """An elliptic red object on a blue background, and a noisy foreground probability."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    truth = (yy - height / 2) ** 2 / 18**2 + (xx - width / 2) ** 2 / 26**2 < 1
    colours = np.where(truth[..., None], [200, 60, 40], [30, 90, 160]).astype(np.float64)
    image = np.clip(colours + rng.normal(0, 10, colours.shape), 0, 255).astype(np.uint8)
    probability = np.where(truth, 0.65, 0.35) + rng.normal(0, 0.2, truth.shape)
    return image, np.clip(probability, 0, 1).astype(np.float32), truth


def test_dense_crf_sharpens_a_noisy_mask():
    image, probability, truth = synthetic_frame()
    before = iou(probability > 0.5, truth)
    refined = dense_crf(image, probability)
    after = iou(refined > 0.5, truth)
    assert before < 0.6
    assert after > 0.95
    assert refined.dtype == np.float32 and refined.shape == truth.shape
    assert refined.min() >= 0.0 and refined.max() <= 1.0


def test_dense_crf_accepts_extreme_probabilities_and_a_channel_axis():
    image, probability, truth = synthetic_frame(seed=1)
    hard = truth.astype(np.float64)  # exactly 0 and 1: the unary must stay finite
    refined = dense_crf(image, hard[..., None])
    assert np.all(np.isfinite(refined))
    assert iou(refined > 0.5, truth) > 0.95


def test_dense_crf_validates_its_inputs():
    image, probability, _ = synthetic_frame()
    with pytest.raises(ValueError, match="uint8"):
        dense_crf(image.astype(np.float32), probability)
    with pytest.raises(ValueError, match=r"\(height, width, 3\)"):
        dense_crf(image[..., 0], probability)
    with pytest.raises(ValueError, match="does not match"):
        dense_crf(image, probability[:-1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        dense_crf(image, probability * 2)
    with pytest.raises(ValueError, match="NaN"):
        dense_crf(image, np.where(probability > 0.5, np.nan, probability))
    with pytest.raises(ValueError, match="floating-point"):
        dense_crf(image, (probability > 0.5).astype(np.uint8))
    with pytest.raises(ValueError, match="iterations"):
        dense_crf(image, probability, iterations=0)
    with pytest.raises(ValueError, match="integer"):
        dense_crf(image, probability, iterations=2.5)
    with pytest.raises(ValueError, match="bilateral_srgb"):
        dense_crf(image, probability, bilateral_srgb=-1)


def test_dense_crf_config_round_trip():
    crf = DenseCRF()
    assert crf.get_config() == {
        "gaussian_sxy": 1,
        "gaussian_compat": 5,
        "bilateral_sxy": 10,
        "bilateral_srgb": 7,
        "bilateral_compat": 8,
        "iterations": 5,
    }
    custom = DenseCRF.from_config({**crf.get_config(), "iterations": 3, "bilateral_sxy": 20})
    assert custom.iterations == 3 and custom.bilateral_sxy == 20
    image, probability, _ = synthetic_frame()
    np.testing.assert_array_equal(custom(image, probability), dense_crf(image, probability, **custom.get_config()))
    with pytest.raises(ValueError, match="unknown DenseCRF setting"):
        DenseCRF.from_config({"sxy": 3})
    with pytest.raises(ValueError, match="gaussian_compat"):
        DenseCRF(gaussian_compat=0)


def test_crf_map_with_two_workers_equals_serial():
    frames = [synthetic_frame(seed) for seed in range(4)]
    images = [image for image, _, _ in frames]
    probabilities = [probability for _, probability, _ in frames]
    crf = DenseCRF(iterations=3)
    serial = crf_map(images, probabilities, workers=1, crf=crf)
    parallel = crf_map(images, probabilities, workers=2, crf=crf)
    assert len(serial) == len(parallel) == 4
    for one, other, (image, probability, _) in zip(serial, parallel, frames):
        np.testing.assert_array_equal(one, other)
        np.testing.assert_array_equal(one, crf(image, probability))


def test_crf_map_validates_before_starting_workers():
    image, probability, _ = synthetic_frame()
    with pytest.raises(ValueError, match="2 images but 1"):
        crf_map([image, image], [probability])
    with pytest.raises(ValueError, match="frame 1"):
        crf_map([image, image], [probability, probability * 3], workers=2)
    with pytest.raises(ValueError, match="workers"):
        crf_map([image], [probability], workers=0)
    with pytest.raises(TypeError, match="DenseCRF"):
        crf_map([image], [probability], crf={"iterations": 2})
    assert crf_map([], []) == []


def test_dense_crf_accepts_a_read_only_frame():
    from cosnet_tf.postprocessing import dense_crf

    image = np.zeros((16, 16, 3), np.uint8)
    image[4:12, 4:12] = 200
    image.setflags(write=False)  # as np.asarray(PIL image) gives
    prob = np.full((16, 16), 0.3, np.float32)
    prob[4:12, 4:12] = 0.7
    assert dense_crf(image, prob).shape == (16, 16)
