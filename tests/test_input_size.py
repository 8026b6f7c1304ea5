"""Inference resolution: the aspect-preserving input size and where it is used."""
import numpy as np
import pytest

from cosnet_tf.inference import VideoSegmenter
from cosnet_tf.inference.input_size import (
    aspect_preserving_size,
    resolve_input_size,
    tf_aspect_preserving_size,
    tf_model_input_size,
)

from tests.conftest import conv_backbone, tiny_cosnet

# (height, width) of frames people segment: DAVIS 480p, 1080p, portrait phone video, 4:3, square.
FRAME_SIZES = [(480, 854), (1080, 1920), (1920, 1080), (480, 640), (360, 360), (97, 211)]


@pytest.mark.parametrize("frame_size", FRAME_SIZES)
@pytest.mark.parametrize("short_side,stride", [(384, 16), (240, 16), (480, 8), (64, 32)])
def test_aspect_is_kept_within_a_stride(frame_size, short_side, stride):
    height, width = aspect_preserving_size(frame_size, short_side, stride)
    assert height % stride == 0 and width % stride == 0
    short, long = sorted((height, width))
    assert abs(short - short_side) <= stride / 2
    frame_short, frame_long = sorted(frame_size)
    # The long side is the exact scaled long side, rounded to the nearest stride.
    assert abs(long - frame_long * short_side / frame_short) <= stride / 2
    assert (height >= width) == (frame_size[0] >= frame_size[1])


def test_graph_version_matches_the_python_one():
    for frame_size in FRAME_SIZES:
        for short_side in (100, 240, 384, 481):
            expected = aspect_preserving_size(frame_size, short_side, 16)
            assert tuple(tf_aspect_preserving_size(frame_size, short_side, 16).numpy()) == expected


def test_bad_sizes_are_rejected_by_name():
    with pytest.raises(ValueError, match="short_side"):
        aspect_preserving_size((480, 854), 0)
    with pytest.raises(ValueError, match="frame_size"):
        aspect_preserving_size((0, 854), 384)
    with pytest.raises(ValueError, match="short_side"):
        VideoSegmenter(tiny_cosnet(backbone=conv_backbone()), short_side=-3)
    with pytest.raises(ValueError, match="inference_short_side"):
        tiny_cosnet(backbone=conv_backbone(), inference_short_side=0)


def test_precedence_input_size_then_short_side_then_the_models_settings():
    def in_graph(model):  # the exported signatures' version, from the model's settings alone
        return tuple(int(v) for v in tf_model_input_size(model, tf.constant([480, 854])).numpy())

    import tensorflow as tf

    model = tiny_cosnet(backbone=conv_backbone(), inference_size=(32, 32), inference_short_side=48)
    assert resolve_input_size(model, (480, 854)) == in_graph(model) == (48, 80)
    assert resolve_input_size(model, (480, 854), short_side=64) == (64, 112)
    assert resolve_input_size(model, (480, 854), input_size=(40, 40), short_side=64) == (40, 40)
    model.inference_short_side = None
    assert resolve_input_size(model, (480, 854)) == in_graph(model) == (32, 32)
    model.inference_size = None
    assert resolve_input_size(model, (480, 854)) == in_graph(model) == (480, 854)


@pytest.mark.parametrize("frame_size", [(40, 72), (72, 40), (48, 48)])
def test_frames_of_any_aspect_come_back_at_their_own_size(frame_size):
    model = tiny_cosnet(backbone=conv_backbone(), inference_short_side=32)
    video = np.random.default_rng(0).integers(0, 255, (3, *frame_size, 3), dtype=np.uint8)
    segmenter = VideoSegmenter(model, num_references=1)
    probabilities = segmenter.segment(video)
    assert probabilities.shape == (3, *frame_size)
    model_size = segmenter.last_run["input_size"]
    assert model_size == aspect_preserving_size(frame_size, 32, 16) and min(model_size) == 32


def test_short_side_round_trips_through_a_saved_model(tmp_path):
    import keras

    model = tiny_cosnet(backbone=conv_backbone(), inference_short_side=48)
    path = tmp_path / "m.keras"
    model.save(path)
    assert keras.saving.load_model(path).inference_short_side == 48


def test_exported_graph_resizes_like_cosnet_segment():
    import tensorflow as tf

    from cosnet_tf.export.saved_model import prepare_frames

    model = tiny_cosnet(backbone=conv_backbone(), inference_short_side=32)
    prepare = tf.function(lambda frames: prepare_frames(model, frames),
                          input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])
    for frame_size in [(40, 72), (72, 40), (480, 854)]:
        frames = tf.zeros((1, *frame_size, 3), tf.uint8)
        assert tuple(prepare(frames).shape[1:3]) == resolve_input_size(model, frame_size)
