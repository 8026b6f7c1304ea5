"""Loading weights by layer name (Keras HDF5 files, other Keras models), with errors that name what does not fit."""
import os

import h5py
import keras
import numpy as np

KERAS_MOBILENETV2_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
    "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_224_no_top.h5"
)


def _layer_groups(h5):
    group = h5["model_weights"] if "model_weights" in h5 else h5
    return {name: group[name] for name in group.keys() if isinstance(group[name], h5py.Group)}


def _dataset_names(group):
    found = []
    group.visititems(lambda n, obj: found.append(n) if isinstance(obj, h5py.Dataset) else None)
    return found


def _read_layer(group):
    names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs.get("weight_names", [])]
    # Files written without the attribute: every dataset, in file order.
    return [np.asarray(group[n]) for n in names or _dataset_names(group)]


def _source_layers(source):
    """{layer name: weights} of a Keras model, or of a Keras HDF5 weights file."""
    if isinstance(source, keras.Model):
        return {layer.name: layer.get_weights() for layer in source.layers if layer.weights}
    path = source
    if not os.path.exists(path):
        raise FileNotFoundError(f"Weights file not found: {path}")
    if str(path).endswith(".keras"):
        raise ValueError(
            f"{path} is a saved model, not a weights file: pass the model whose layers to copy, e.g. "
            "cosnet_tf.models.cosnet.read_saved_cosnet(path).backbone"
        )
    try:
        h5 = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"Cannot read weights file {path}: {error}") from error
    with h5:
        # Groups of weightless layers (ReLU, Add) hold no datasets: left out.
        return {name: _read_layer(group) for name, group in _layer_groups(h5).items() if _dataset_names(group)}


def load_weights_by_name(model, source, *, require=None, allow_missing=()):
    """Copies weights from a Keras HDF5 file (or another model) into the layers of `model` with the same name.

    Layers of the file that `model` lacks are ignored (a no-top MobileNetV2 has
    `Conv_1`, a DeepLab file has `logits_conv`); layers of `model` that the
    file lacks are listed in the result, and an error is raised if any of them
    matches a prefix in `require`. A shape mismatch always raises, naming the
    layer.

    Args:
        model: a built Keras model.
        source: the `.h5` file (keras.applications layout or legacy by-name),
            or a Keras model whose layers are read, e.g. a trained COSNet's
            backbone at another output stride (dilation changes no weight's
            shape).
        require: layer-name prefixes that must all be found in the file;
            `None` requires every weighted layer of `model` except those
            matching `allow_missing`.
        allow_missing: layer-name prefixes that may be absent.

    Returns:
        `{"loaded": [...], "missing": [...], "unused": [...]}` layer names.
    """
    layers = _source_layers(source)
    path = f"the model {source.name!r}" if isinstance(source, keras.Model) else source
    loaded, missing = [], []
    for layer in model.layers:
        if not layer.weights:
            continue
        values = layers.get(layer.name, [])
        if not values:
            missing.append(layer.name)
            continue
        expected = [tuple(w.shape) for w in layer.weights]
        got = [tuple(v.shape) for v in values]
        if expected != got:
            raise ValueError(
                f"{path}: layer {layer.name!r} has weights of shapes {got}, but the "
                f"model's layer expects {expected}."
            )
        layer.set_weights(values)
        loaded.append(layer.name)
    unused = sorted(set(layers) - set(loaded))
    if require is None:
        bad = [n for n in missing if not n.startswith(tuple(allow_missing))]
    else:
        bad = [n for n in missing if n.startswith(tuple(require))]
    if bad:
        raise ValueError(
            f"{path} has no weights for {len(bad)} layer(s) of {model.name!r}: "
            f"{', '.join(bad[:10])}{' ...' if len(bad) > 10 else ''}"
        )
    return {"loaded": loaded, "missing": missing, "unused": unused}


def resolve_mobilenetv2_weights(weights, alpha):
    """Turns `weights` ("imagenet" or a path) into a local file path.

    "imagenet" downloads the keras.applications file (cached in ~/.keras) and
    fails with a clear message where there is no network; pass the local
    path of the same file instead.
    """
    if weights != "imagenet":
        return weights
    url = KERAS_MOBILENETV2_URL.format(alpha=f"{alpha:g}" if alpha != 1.0 else "1.0")
    try:
        return keras.utils.get_file(origin=url, cache_subdir="models")
    except Exception as error:  # no network, proxy, bad cache: all re-raised with the advice below
        raise RuntimeError(
            f"Could not download the ImageNet MobileNetV2 weights ({url}): {error}. "
            "Pass the path of a local copy instead, e.g. "
            "backbone_weights='../shared/weights/mobilenet_v2_1.0_imagenet_no_top.h5'."
        ) from error
