"""DeepLabv3 backbones: shapes, preprocessing, and weights loaded by name."""
import h5py
import keras
import numpy as np
import pytest

from cosnet_tf.backbones import (
    ImagePreprocessing,
    MobileNetV2DeepLabV3Backbone,
    ResNetDeepLabV3Backbone,
    load_weights_by_name,
)
from cosnet_tf.models.cosnet import COSNet, read_saved_cosnet
from tests.conftest import random_frames, shared_path


@pytest.mark.parametrize("output_stride", [8, 16])
def test_resnet_feature_size_follows_pytorch(output_stride):
    backbone = ResNetDeepLabV3Backbone(depth=50, output_stride=output_stride, aspp_filters=16, output_filters=8)
    # conv1 7x7/2 pad 3, ceil-mode pool 3x3/2 pad 1, then 1x1 stride-2 convs.
    def after(n):
        n = (n + 6 - 7) // 2 + 1
        n = -(-(n + 2 - 3) // 2) + 1
        n = (n - 1) // 2 + 1
        return n if output_stride == 8 else (n - 1) // 2 + 1

    for h, w in [(97, 129), (96, 128), (33, 47)]:
        assert tuple(backbone(random_frames(1, h, w))["embedding"].shape) == (1, after(h), after(w), 8), (h, w)


@pytest.mark.parametrize("output_stride", [8, 16])
def test_mobilenetv2_output_stride_and_dilations(output_stride):
    backbone = MobileNetV2DeepLabV3Backbone(alpha=0.35, output_stride=output_stride, aspp_filters=16, output_filters=16)
    out = backbone(random_frames(1, 97, 129))["embedding"]
    assert tuple(out.shape) == (1, -(-97 // output_stride), -(-129 // output_stride), 16)
    dilations = {
        i: backbone.get_layer(f"block_{i}_depthwise").dilation_rate[0] for i in range(1, 17)
    }
    if output_stride == 16:
        assert backbone.get_layer("block_13_depthwise").strides == (1, 1)
        assert [dilations[i] for i in (13, 14, 15, 16)] == [1, 2, 2, 2]
    else:
        assert backbone.get_layer("block_6_depthwise").strides == (1, 1)
        assert [dilations[i] for i in (6, 7, 12, 13, 14, 16)] == [1, 2, 2, 2, 4, 4]


def test_preprocessing_modes():
    rgb = np.array([[[[10.0, 20.0, 30.0]]]], "float32")
    caffe = ImagePreprocessing("caffe_bgr")(rgb).numpy().ravel()
    np.testing.assert_allclose(caffe, [30 - 104.00699, 20 - 116.66877, 10 - 122.67892], rtol=1e-6)
    np.testing.assert_allclose(ImagePreprocessing("symmetric")(rgb).numpy().ravel(), [10 / 127.5 - 1, 20 / 127.5 - 1, 30 / 127.5 - 1], rtol=1e-6)
    with pytest.raises(ValueError, match="preprocessing mode"):
        ImagePreprocessing("torch")


@pytest.mark.parametrize("alpha,name", [(1.0, "mobilenet_v2_1.0_imagenet_no_top.h5"), (0.35, "mobilenet_v2_0.35_imagenet_no_top.h5")])
def test_imagenet_weights_match_keras_applications(alpha, name):
    path = str(shared_path("weights", name))
    reference = keras.applications.MobileNetV2(
        input_shape=(224, 224, 3), alpha=alpha, include_top=False, weights=path
    )
    ours = MobileNetV2DeepLabV3Backbone(alpha=alpha, output_stride=32)
    report = load_weights_by_name(ours, path, allow_missing=("aspp_",))
    assert "Conv_1" in report["unused"]
    assert all(n.startswith("aspp_") for n in report["missing"])
    frames = random_frames(2, 224, 224, 9)
    ref_features = keras.Model(reference.input, reference.get_layer("block_16_project_BN").output)(
        frames / 127.5 - 1.0
    )
    our_features = keras.Model(ours.input, ours.get_layer("block_16_project_BN").output)(frames)
    np.testing.assert_allclose(our_features, ref_features, atol=1e-4)


def test_deeplab_pascal_weights_fill_the_whole_backbone():
    path = str(shared_path("weights", "deeplabv3_mobilenetv2_1.0_pascal_byname.h5"))
    backbone = MobileNetV2DeepLabV3Backbone(alpha=1.0, output_stride=16)
    report = load_weights_by_name(backbone, path)  # requires every layer
    assert not report["missing"]
    assert "logits_conv" in report["unused"]
    with h5py.File(path) as f:
        kernel = np.asarray(f["aspp_concat_projection_conv"]["aspp_concat_projection_conv"]["kernel"])
    np.testing.assert_array_equal(backbone.get_layer("aspp_concat_projection_conv").kernel.numpy(), kernel)


def test_load_weights_by_name_errors(tmp_path):
    backbone = MobileNetV2DeepLabV3Backbone(alpha=0.35, output_stride=16, aspp_filters=8, output_filters=8)
    with pytest.raises(FileNotFoundError, match="absent.h5"):
        load_weights_by_name(backbone, tmp_path / "absent.h5")
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"not an hdf5 file")
    with pytest.raises(ValueError, match="corrupt.h5"):
        load_weights_by_name(backbone, corrupt)
    wrong = tmp_path / "wrong.h5"
    with h5py.File(wrong, "w") as f:
        group = f.create_group("Conv1")
        group.attrs["weight_names"] = [b"Conv1/kernel"]
        group.create_dataset("Conv1/kernel", data=np.zeros((3, 3, 3, 99), "float32"))
    with pytest.raises(ValueError, match="Conv1"):
        load_weights_by_name(backbone, wrong)
    empty = tmp_path / "empty.h5"
    h5py.File(empty, "w").close()
    with pytest.raises(ValueError, match="no weights for"):
        load_weights_by_name(backbone, empty)


def test_backbone_config_round_trip():
    backbone = ResNetDeepLabV3Backbone(depth=50, output_stride=16, aspp_filters=16, aspp_rates=(3, 6), output_filters=8)
    clone = ResNetDeepLabV3Backbone.from_config(backbone.get_config())
    assert clone.get_config() == backbone.get_config()
    assert clone.count_params() == backbone.count_params()


def test_backbone_weights_from_a_saved_cosnet(tmp_path):
    """A saved COSNet's backbone starts another model's, also at another output stride."""
    from tests.conftest import tiny_backbone, tiny_cosnet

    source = tiny_cosnet()
    frames = random_frames(2, 64, 64)
    source({"frame_a": frames[:1], "frame_b": frames[1:]})
    for layer in source.backbone.layers:  # weights unlike a fresh backbone's, batch norm included
        layer.set_weights([w + np.float32(0.5) for w in layer.get_weights()])
    saved = tmp_path / "trained.keras"
    source.save(saved)
    target = tiny_backbone(output_stride=8)
    report = load_weights_by_name(target, read_saved_cosnet(str(saved)).backbone)
    assert not report["missing"] and report["loaded"]
    for name in report["loaded"]:
        for got, want in zip(target.get_layer(name).get_weights(), source.backbone.get_layer(name).get_weights()):
            np.testing.assert_array_equal(got, want)

    not_a_cosnet = tmp_path / "plain.keras"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(not_a_cosnet)
    with pytest.raises(ValueError, match="plain.keras.*not a COSNet"):
        read_saved_cosnet(str(not_a_cosnet))
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="corrupt.keras"):
        read_saved_cosnet(str(corrupt))
    with pytest.raises(ValueError, match="trained.keras is a saved model.*read_saved_cosnet"):
        load_weights_by_name(target, str(saved))
    wider = MobileNetV2DeepLabV3Backbone(alpha=1.0, output_stride=16, aspp_filters=16, output_filters=16)
    with pytest.raises(ValueError, match="expects"):
        load_weights_by_name(wider, read_saved_cosnet(str(saved)).backbone)
    # COSNet.from_preset reads a saved model's backbone by its path.
    built = COSNet.from_preset("mobilenetv2", backbone_config=dict(alpha=0.35, output_stride=8, aspp_filters=16, output_filters=16),
                               backbone_weights=str(saved))
    for layer in source.backbone.layers:
        for got, want in zip(built.backbone.get_layer(layer.name).get_weights(), layer.get_weights()):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("output_stride", [8, 16])
def test_mid_level_block_is_concatenated_on_the_output_grid(output_stride):
    plain = MobileNetV2DeepLabV3Backbone(alpha=0.35, output_stride=output_stride, aspp_filters=8, output_filters=8)
    backbone = MobileNetV2DeepLabV3Backbone(
        alpha=0.35, output_stride=output_stride, aspp_filters=8, output_filters=8, mid_level_block=12
    )
    frames = random_frames(1, 70, 90, 4)
    features = backbone(frames)["embedding"]
    channels = backbone.get_layer("block_12_add").output.shape[-1]  # 32 at alpha 0.35
    assert tuple(features.shape) == tuple(plain(frames)["embedding"].shape[:3]) + (8 + channels,)
    block = keras.Model(backbone.input, backbone.get_layer("block_12_add").output)(frames)
    np.testing.assert_array_equal(np.asarray(features[..., 8:]), np.asarray(block))
    clone = MobileNetV2DeepLabV3Backbone.from_config(backbone.get_config())
    assert clone.get_config() == backbone.get_config() and clone.mid_level_block == 12
    assert plain.get_config()["mid_level_block"] is None


def test_mid_level_block_must_be_on_the_output_grid():
    with pytest.raises(ValueError, match="mid_level_block.*stride 8.*blocks 6-16"):
        MobileNetV2DeepLabV3Backbone(alpha=0.35, output_stride=16, mid_level_block=4)
    with pytest.raises(ValueError, match="mid_level_block"):
        MobileNetV2DeepLabV3Backbone(alpha=0.35, output_stride=16, mid_level_block=17)


def test_early_blocks_are_the_stem_and_the_first_blocks_of_each_backbone():
    from cosnet_tf.backbones import early_blocks

    mobilenet = MobileNetV2DeepLabV3Backbone(alpha=0.35, output_stride=16, mid_level_block=12, low_level_block=2)
    assert len(mobilenet.block_prefixes) == 17
    stem = [layer.name for layer in early_blocks(mobilenet, 0)]
    assert stem == ["Conv1", "bn_Conv1"]
    names = [layer.name for layer in early_blocks(mobilenet, 2)]
    assert names[:2] == stem and names[-1] == "block_1_project_BN"
    assert not any(name.startswith(("block_2_", "block_10_", "aspp")) for name in names)
    every = early_blocks(mobilenet, 17)
    assert every[-1].name == "block_16_project_BN" and not any(layer.name.startswith("aspp") for layer in every)
    resnet = ResNetDeepLabV3Backbone(depth=50, output_stride=16, aspp_filters=16, output_filters=16)
    assert len(resnet.block_prefixes) == 16  # 3 + 4 + 6 + 3 bottlenecks
    names = [layer.name for layer in early_blocks(resnet, 4)]
    assert names[:2] == ["conv1", "bn1"] and names[-1].startswith("layer2_0_")
    assert not any(name.startswith(("layer2_1_", "layer3_")) for name in names)
    with pytest.raises(ValueError, match=r"must be in \[0, 16\]"):
        early_blocks(resnet, 17)
    with pytest.raises(ValueError, match="does not list its blocks"):
        early_blocks(keras.Sequential([keras.layers.Dense(2)]), 1)
    assert early_blocks(keras.Sequential([keras.layers.Dense(2)]), 0) == []  # nothing to freeze
