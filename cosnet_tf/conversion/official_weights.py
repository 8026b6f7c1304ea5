"""Port of the authors' released PyTorch checkpoint onto the `resnet101_official` preset."""
import os
import re

import numpy as np

# The 3x3 ASPP branches of the authors' `layer5` in order; their rates (6, 12,
# 18) are part of the backbone config, not of the names.
_ASPP_NAMES = {
    "conv": "aspp_pool_conv",
    "bn_x": "aspp_pool_bn",
    "conv2d_0": "aspp_1x1_conv",
    "bn_0": "aspp_1x1_bn",
    "bottleneck": "aspp_concat_projection_conv",
    "bn": "aspp_concat_projection_bn",
    "prelu": "aspp_concat_projection_prelu",
}
_BN_FIELDS = ("weight", "bias", "running_mean", "running_var")


def read_state_dict(source):
    """Reads the authors' state dict from a `.pth`/`.pt`, a `.npz` or a dict of arrays.

    `.pth` needs PyTorch (`pip install cosnet-tf[torch]`); nested
    {"state_dict": ...} / {"model": ...} checkpoints and the "module." prefix
    that `nn.DataParallel` adds are unwrapped.
    """
    if isinstance(source, dict):
        state = dict(source)
    else:
        path = os.fspath(source)
        if not os.path.exists(path):
            raise FileNotFoundError(f"Checkpoint not found: {path}")
        if path.endswith(".npz"):
            with np.load(path) as data:
                state = {k: data[k] for k in data.files}
        elif path.endswith((".pth", ".pt", ".tar")):
            from cosnet_tf.utils.extras import require

            torch = require("torch", "torch", f"reading {path} (or convert it to .npz where PyTorch is installed)")
            state = torch.load(path, map_location="cpu", weights_only=False)
            for key in ("state_dict", "model"):
                if isinstance(state, dict) and key in state and isinstance(state[key], dict):
                    state = state[key]
            state = {k: v.detach().cpu().numpy() for k, v in state.items() if hasattr(v, "detach")}
        else:
            raise ValueError(f"Unsupported checkpoint format: {path} (expected .pth, .pt or .npz).")
    return {re.sub(r"^module\.", "", k): np.asarray(v) for k, v in state.items()}


def _conv_kernel(w):
    return np.transpose(w, (2, 3, 1, 0))  # (out, in, kh, kw) -> (kh, kw, in, out)


def official_weight_map(model):
    """Maps every parameter key of the authors' checkpoint to (Keras variable, converter)."""
    backbone = model.backbone
    mapping = {}

    def conv(torch_name, layer, bias=None):
        mapping[f"{torch_name}.weight"] = (layer.kernel, _conv_kernel)
        if bias if bias is not None else layer.use_bias:
            mapping[f"{torch_name}.bias"] = (layer.bias, None)

    def bn(torch_name, layer):
        variables = (layer.gamma, layer.beta, layer.moving_mean, layer.moving_variance)
        for field, variable in zip(_BN_FIELDS, variables):
            mapping[f"{torch_name}.{field}"] = (variable, None)

    for layer in backbone.layers:
        if not layer.weights:
            continue
        name = layer.name
        if name.startswith("aspp_"):
            inverse = {v: k for k, v in _ASPP_NAMES.items()}
            match = re.fullmatch(r"aspp_atrous(\d+)_(conv|bn)", name)
            if match:
                index, kind = match.groups()
                torch_name = f"encoder.layer5.{'conv2d' if kind == 'conv' else 'bn'}_{index}"
            elif name in inverse:
                torch_name = f"encoder.layer5.{inverse[name]}"
            else:
                raise ValueError(f"No official counterpart for backbone layer {name!r}.")
        else:
            torch_name = "encoder." + re.sub(r"_(\d+)_", r".\1.", name).replace(
                "downsample_", "downsample."
            )
        kind = layer.__class__.__name__
        if kind == "Conv2D":
            conv(torch_name, layer)
        elif kind == "BatchNormalization":
            bn(torch_name, layer)
        elif kind == "PReLU":
            mapping[f"{torch_name}.weight"] = (layer.alpha, lambda w: w.reshape(1, 1, 1))
        else:
            raise ValueError(f"Unexpected weighted layer {name!r} ({kind}) in the backbone.")

    conv("encoder.main_classifier", model.saliency_head.classifier)
    # linear_e.weight is W of Eq. 1 as it stands: A = V_a^T W^T V_b.
    mapping["linear_e.weight"] = (model.coattention.kernel, None)
    mapping["gate.weight"] = (model.gate.kernel, lambda w: w.reshape(w.shape[0], -1).T)
    for suffix, head in (("1", model.head_a), ("2", model.head_b)):
        conv(f"conv{suffix}", head.convs[0])
        bn(f"bn{suffix}", head.norms[0])
        conv(f"main_classifier{suffix}", head.classifier)
    return mapping


def _check_official_structure(model):
    from cosnet_tf.backbones import ResNetDeepLabV3Backbone
    from cosnet_tf.layers import VanillaCoAttention

    problems = []
    if not isinstance(model.backbone, ResNetDeepLabV3Backbone) or model.backbone.depth != 101:
        problems.append("the backbone must be the ResNet-101 DeepLabv3")
    if not isinstance(model.coattention, VanillaCoAttention):
        problems.append("the co-attention must be 'vanilla' (linear_e)")
    if model.gate is not None and model.gate.use_bias:
        problems.append("the gate must have no bias")
    if model.head_depth != 1:
        problems.append("the heads must have depth 1")
    if problems:
        raise ValueError(
            "The authors' checkpoint fits only the `resnet101_official` preset: "
            + "; ".join(problems)
            + "."
        )


def load_official_weights(model, source):
    """Loads the authors' COSNet checkpoint into a `resnet101_official` model.

    Args:
        model: `COSNet.from_preset("resnet101_official")`.
        source: a `.pth` file (needs torch), a `.npz`, or a dict of NumPy
            arrays in PyTorch layout (conv: out, in, kh, kw; linear: out, in).

    Raises:
        ValueError naming every unknown, missing or mis-shaped tensor.

    Example:

    >>> from cosnet_tf import COSNet                                 # doctest: +SKIP
    >>> model = COSNet.from_preset("resnet101_official")             # doctest: +SKIP
    >>> load_official_weights(model, "co_attention.pth")             # doctest: +SKIP
    """
    _check_official_structure(model)
    state = read_state_dict(source)
    mapping = official_weight_map(model)
    ignored = {k for k in state if k.endswith("num_batches_tracked")}
    unknown = sorted(set(state) - set(mapping) - ignored)
    missing = sorted(set(mapping) - set(state))
    mis_shaped = []
    converted = {}
    for key, (variable, convert) in mapping.items():
        if key not in state:
            continue
        value = state[key].astype(np.float32)
        value = convert(value) if convert is not None else value
        if tuple(value.shape) != tuple(variable.shape):
            mis_shaped.append(
                f"{key}: {tuple(state[key].shape)} -> {tuple(value.shape)}, expected {tuple(variable.shape)}"
            )
        converted[key] = value
    errors = []
    if unknown:
        errors.append(f"{len(unknown)} unknown tensor(s): {', '.join(unknown)}")
    if missing:
        errors.append(f"{len(missing)} missing tensor(s): {', '.join(missing)}")
    if mis_shaped:
        errors.append(f"{len(mis_shaped)} mis-shaped tensor(s): {'; '.join(mis_shaped)}")
    if errors:
        raise ValueError("The checkpoint does not fit resnet101_official: " + " | ".join(errors))
    for key, (variable, _) in mapping.items():
        variable.assign(converted[key])
    return model
