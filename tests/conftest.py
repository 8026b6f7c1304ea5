"""Shared test fixtures. Tests that need ../shared skip with a reason when it is absent."""
import importlib.util
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("COSNET_SHARED", REPO_ROOT.parent / "shared"))

# For comparing one network's outputs computed two ways (another batch size, another number of
# references, a graph against eager): oneDNN sums float32 in a shape- and CPU-dependent order;
# real errors move probabilities by 1e-3 or more
# (docs/research-log.md#2026-11-26--float32-summation-order-differs-between-machines).
REORDERED_FLOAT32_ATOL = 1e-4


def shared_path(*parts):
    """Path under ../shared, or skip the test with a clear reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"needs {path} (the project's ../shared folder, present in CI, not in a user's clone)"
        )
    return path


def load_script(path):
    """Imports a script that is not in a package (a benchmark, a golden-output maker) as a module."""
    path = pathlib.Path(path)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    np.random.seed(1234)


# `backbone_config` of the same small backbone, for configs and presets (`TrainConfig(model=...)`).
TINY_BACKBONE = {"alpha": 0.35, "output_stride": 16, "aspp_filters": 16, "output_filters": 16}


def tiny_backbone(output_stride=16, channels=16):
    """A small but real MobileNetV2 DeepLabv3 backbone for fast model tests."""
    from cosnet_tf.backbones import MobileNetV2DeepLabV3Backbone

    return MobileNetV2DeepLabV3Backbone(
        alpha=0.35,
        output_stride=output_stride,
        aspp_filters=channels,
        output_filters=channels,
        name="backbone",
    )


def conv_backbone(channels=16):
    """Four stride-2 convolutions returning {"embedding"} at stride 16, as `tiny_backbone()`: a
    backbone for tests of what surrounds the network (video loops, files, the command line), where
    building and tracing MobileNetV2 would be most of the test."""
    images = keras.Input((None, None, 3))
    features = keras.layers.Rescaling(1 / 32, offset=-4.0, name="scale")(images)
    for index in range(4):
        features = keras.layers.Conv2D(channels, 3, strides=2, padding="same", activation="relu",
                                       kernel_initializer="he_normal",
                                       name=f"conv_{index}")(features)
    return keras.Model(images, {"embedding": features}, name="backbone")


def give_summary_weights(model, seed=5, scale=0.1):
    """Random weights on the heads' summary inputs, as a trained model has.

    A new COSNet starts them at zero (its predictions ignore the references
    until training moves them); tests of Eq. 13 and of fusion need the summary
    to matter.
    """
    channels = model.attention_channels
    for head in (model.head_a, model.head_b):
        layer = head.convs[0] if head.convs else head.classifier
        kernel = layer.kernel.numpy()
        kernel[:, :, :channels] = np.random.default_rng(seed).normal(0, scale, kernel[:, :, :channels].shape)
        layer.kernel.assign(kernel)
    return model


def tiny_cosnet(coattention="vanilla", summary_weights=True, backbone=None, **kwargs):
    """A COSNet on `tiny_backbone()`, or on `backbone` (for example `conv_backbone()`)."""
    from cosnet_tf import COSNet

    kwargs.setdefault("head_filters", 16)
    model = COSNet(backbone or tiny_backbone(), coattention=coattention, **kwargs)
    if coattention is not None and summary_weights:
        give_summary_weights(model)
    return model


def random_frames(batch, height, width, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (batch, height, width, 3)).astype("float32")


def write_video(path, frames, fps=10, codec="mpeg4"):
    """Writes `frames` (uint8 [T, H, W, 3]) as a video (MPEG-4 part 2 unless `codec` says, e.g.
    "libx264") with PyAV; returns the path as a string."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return str(path)
