"""Test-time flip averaging: each frame also segmented mirrored, the probabilities averaged."""
import numpy as np
import pytest
from PIL import Image

from cosnet_tf.cli.main import main
from cosnet_tf.inference import VideoSegmenter
from tests.conftest import REORDERED_FLOAT32_ATOL, conv_backbone, tiny_cosnet


@pytest.fixture(scope="module")
def model():
    return tiny_cosnet(backbone=conv_backbone())


@pytest.fixture(scope="module")
def video():
    return np.random.default_rng(0).integers(0, 256, (3, 40, 56, 3), dtype=np.uint8)


def test_flip_on_a_three_frame_folder_gives_masks_of_the_input_size(model, video, tmp_path):
    frames, out = tmp_path / "frames", tmp_path / "out"
    frames.mkdir()
    for index, frame in enumerate(video[:, :37, :53]):  # an odd size: resized both ways
        Image.fromarray(frame).save(frames / f"{index:05d}.png")
    model.save(tmp_path / "tiny.keras")
    assert main(["segment", str(frames), "--out", str(out), "--model", str(tmp_path / "tiny.keras"),
                 "--refs", "2", "--flip", "--quiet"]) == 0
    masks = sorted(out.glob("*.png"))
    assert [p.name for p in masks] == [f"{i:05d}.png" for i in range(3)]
    for path in masks:
        with Image.open(path) as image:
            assert image.mode == "L" and image.size == (53, 37)
            assert set(np.unique(np.asarray(image))) <= {0, 255}


@pytest.mark.parametrize("refs", [0, 2])
def test_flip_of_a_mirrored_video_is_the_mirror_of_the_output(model, video, refs):
    mirrored = video[:, :, ::-1]

    def probabilities(frames, flip):
        return VideoSegmenter(model, num_references=refs, input_size=(32, 48), flip=flip).segment(frames)

    flipped = probabilities(video, True)
    np.testing.assert_allclose(probabilities(mirrored, True), flipped[:, :, ::-1], atol=REORDERED_FLOAT32_ATOL)
    # An untrained network is not mirror-symmetric by itself: the average is what makes it so.
    plain = probabilities(video, False)
    assert np.abs(probabilities(mirrored, False) - plain[:, :, ::-1]).max() > 10 * REORDERED_FLOAT32_ATOL
    assert np.abs(flipped - plain).max() > 10 * REORDERED_FLOAT32_ATOL


def test_flip_averages_the_plain_and_the_mirrored_segmentation(model, video):
    def probabilities(frames, flip):
        return VideoSegmenter(model, num_references=2, flip=flip).segment(frames)

    expected = 0.5 * (probabilities(video, False) + probabilities(video[:, :, ::-1], False)[:, :, ::-1])
    np.testing.assert_allclose(probabilities(video, True), expected, atol=REORDERED_FLOAT32_ATOL)
