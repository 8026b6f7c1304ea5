"""Is a model's co-attention doing anything? Measurements on frame pairs of a DAVIS-layout root.

Prints, for MODEL on pairs of frames (query, reference) of the sequences given:
  * attention: entropy of the softmax over reference positions (Eq. 6) against its
    maximum log(h'w'), the largest weight, and the share of the attention of the
    query's object pixels that lands on the reference's object pixels
    ("on object"; chance is the object's share of the reference);
  * feature similarity: mean cosine between the query's object positions and the
    reference's object / background positions, on raw features and on features centred
    over each frame's positions (what `cosine=True` compares);
  * gate (Eq. 8): mean confidence on object and on background pixels, and on the query's
    strays (what its N = 0 mask covers away from the object, `error_regions`; a
    comparison with other frames can only reject a stray that the gate finds less
    recurrent than the object) and on the rest of the background, with the strays'
    share of the positions and the share of pairs that have any;
  * motion against the background, read from the attention (not used by the model): each
    query position's displacement to where it attends in the reference (the attention-weighted
    mean position, and the arg max), less the median displacement of all positions (the
    camera's), in feature cells; its mean on object, strays and other background, and how
    often an object position moves more than a stray of the same pair (AUC over pairs with
    strays; 0.5 is no separation). A cue that could reject strays that recur as much as the
    object, if the object moves against the background and they do not;
  * scales: mean norm of the summary Z, of the gated summary, of the features V;
  * weights: W's spread and distance from its identity start, the learned
    temperature of a cosine affinity, and the heads' weight norms on the summary
    half and the feature half of X = [Z, V] (Eq. 10);
  * gradients of Eq. 11 on these pairs reaching W, the gate and the heads' two halves.

    python benchmarks/coattention_diagnostics.py MODEL.keras --davis-root ROOT \
        [--sequences A B] [--size 256 256] [--pairs 8]
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _kernel_of(layer):
    return getattr(layer, "kernel", None)


def _grid(height, width):
    """Centres of a height x width grid of cells, [height*width, 2] (row, column) in cells."""
    rows, columns = np.meshgrid(np.arange(height) + 0.5, np.arange(width) + 0.5, indexing="ij")
    return np.stack([rows.reshape(-1), columns.reshape(-1)], axis=-1)


def relative_motion(attention, query_shape, reference_shape, background=None):
    """Per query position, |displacement to where it attends - the median displacement|, in cells.

    Returns (soft, hard): the attention-weighted mean position, and the most attended one.
    Reference positions are mapped to the query's grid, so frames of different sizes compare.
    The median (the camera's motion) is over the query positions where `background` (a boolean
    [h*w]) is True, or over all of them when it is None or marks fewer than 8.
    """
    scale = np.array(query_shape, dtype="float64") / np.array(reference_shape, dtype="float64")
    reference = _grid(*reference_shape) * scale
    query = _grid(*query_shape)
    weights = attention / attention.sum(-1, keepdims=True)
    out = []
    for matched in (weights @ reference, reference[attention.argmax(-1)]):
        displacement = matched - query
        camera = displacement[background] if background is not None and background.sum() >= 8 else displacement
        out.append(np.linalg.norm(displacement - np.median(camera, axis=0), axis=-1))
    return tuple(out)


def _auc(positive, negative):
    """P(a positive value > a negative one), ties counted half: the separation of two samples."""
    greater = (positive[:, None] > negative[None, :]).mean()
    ties = (positive[:, None] == negative[None, :]).mean()
    return float(greater + 0.5 * ties)


def diagnose(model, pairs):
    """Measurements (a dict) of `model` on `pairs`: a list of (frame_a, frame_b, mask_a, mask_b)."""
    import tensorflow as tf
    from keras import ops

    from cosnet_tf.evaluation import error_regions
    from cosnet_tf.losses import WeightedBinaryCrossentropy

    if model.coattention is None:
        raise ValueError("the model has no co-attention to diagnose")
    c = model.attention_channels
    rows = []
    for frame_a, frame_b, mask_a, mask_b in pairs:
        features = model.encode(np.stack([frame_a, frame_b]).astype("float32"))
        v = model.attention_features(features)
        va, vb = v[:1], v[1:]
        h, w = va.shape[1:3]
        attention = np.asarray(model.coattention.attention(va, vb))[0]  # [hw, h'w']
        # The query's strays: what its N = 0 mask covers away from the object.
        alone = np.asarray(model.segment(features[:1], None, output_size=mask_a.shape))[0, ..., 0] > 0.5
        strays = error_regions(alone, mask_a).strays
        small = tf.image.resize(np.stack([mask_a, mask_b, strays])[..., None].astype("float32"), (h, w), "area")
        obj_a = np.asarray(small[0, ..., 0]).reshape(-1) > 0.5
        obj_b = np.asarray(small[1, ..., 0]).reshape(-1) > 0.5
        stray_a = np.asarray(small[2, ..., 0]).reshape(-1) > 0.5
        entropy = -(attention * np.log(attention + 1e-12)).sum(-1)
        motion = {}
        for kind, values in zip(("soft", "hard"), relative_motion(attention, (h, w), tuple(vb.shape[1:3]))):
            for region, where in (("object", obj_a), ("stray", stray_a), ("other_background", ~obj_a & ~stray_a)):
                motion[f"motion_{kind}_{region}"] = float(values[where].mean()) if where.any() else np.nan
            both = obj_a.any() and stray_a.any()
            motion[f"motion_{kind}_object_over_stray_auc"] = _auc(values[obj_a], values[stray_a]) if both else np.nan
        similarity = {}
        for kind in ("raw", "centred"):
            fa, fb = np.asarray(va)[0].reshape(-1, c), np.asarray(vb)[0].reshape(-1, c)
            if kind == "centred":
                fa, fb = fa - fa.mean(0), fb - fb.mean(0)
            fa = fa / (np.linalg.norm(fa, axis=-1, keepdims=True) + 1e-6)
            fb = fb / (np.linalg.norm(fb, axis=-1, keepdims=True) + 1e-6)
            cos = fa @ fb.T
            for region, columns in (("object", obj_b), ("background", ~obj_b)):
                ok = obj_a.any() and columns.any()
                similarity[f"{kind}_cos_object_to_{region}"] = float(cos[obj_a][:, columns].mean()) if ok else np.nan
        z = model.coattention.summarize_query(va, vb)
        gated, confidence = model.gate(z, return_confidence=True)
        confidence = np.asarray(confidence)[0, ..., 0].reshape(-1)
        rows.append(dict(
            entropy=float(entropy.mean()),
            max_entropy=float(np.log(attention.shape[1])),
            max_weight=float(attention.max(-1).mean()),
            on_object=float(attention[obj_a][:, obj_b].sum(-1).mean()) if obj_a.any() else np.nan,
            object_share=float(obj_b.mean()),
            gate_object=float(confidence[obj_a].mean()) if obj_a.any() else np.nan,
            gate_background=float(confidence[~obj_a].mean()) if (~obj_a).any() else np.nan,
            gate_stray=float(confidence[stray_a].mean()) if stray_a.any() else np.nan,
            gate_other_background=float(confidence[~obj_a & ~stray_a].mean()) if (~obj_a & ~stray_a).any() else np.nan,
            stray_share=float(stray_a.mean()),
            pairs_with_stray=float(stray_a.any()),  # gate_stray is the mean over these pairs only
            summary_norm=float(np.linalg.norm(np.asarray(z), axis=-1).mean()),
            gated_norm=float(np.linalg.norm(np.asarray(gated), axis=-1).mean()),
            feature_norm=float(np.linalg.norm(np.asarray(va), axis=-1).mean()),
            **similarity,
            **motion,
        ))
    out = {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}

    kernel = _kernel_of(model.coattention)
    if kernel is not None and len(kernel.shape) == 2:
        k = kernel.numpy()
        out["W_std"] = float(k.std())
        out["W_minus_identity"] = float(np.linalg.norm(k - np.eye(k.shape[0])) / np.sqrt(k.shape[0]))
    if getattr(model.coattention, "cosine", False):
        out["temperature"] = float(model.coattention.temperature)
    first = model.head_a.convs[0] if model.head_a.convs else model.head_a.classifier
    head_kernel = first.kernel.numpy()
    out["head_summary_weight"] = float(np.abs(head_kernel[:, :, :c]).mean())
    out["head_feature_weight"] = float(np.abs(head_kernel[:, :, c:]).mean())

    loss_fn = WeightedBinaryCrossentropy()
    frame_a = np.stack([p[0] for p in pairs]).astype("float32")
    frame_b = np.stack([p[1] for p in pairs]).astype("float32")
    mask_a = np.stack([p[2] for p in pairs])[..., None].astype("float32")
    mask_b = np.stack([p[3] for p in pairs])[..., None].astype("float32")
    variables = {"W": model.coattention.trainable_weights, "gate": model.gate.trainable_weights,
                 "head": [first.kernel]}
    flat = [v for vs in variables.values() for v in vs]
    with tf.GradientTape() as tape:
        result = model({"frame_a": frame_a, "frame_b": frame_b}, training=False)
        loss = loss_fn(mask_a, result["pred_a"]) + loss_fn(mask_b, result["pred_b"])
    grads = dict(zip([id(v) for v in flat], tape.gradient(loss, flat)))

    def norm(vs):
        gs = [grads[id(v)] for v in vs if grads[id(v)] is not None]
        return float(np.sqrt(sum(float(ops.sum(g * g)) for g in gs))) if gs else 0.0

    out["grad_coattention"] = norm(variables["W"])
    out["grad_gate"] = norm(variables["gate"])
    head_grad = grads[id(first.kernel)]
    out["grad_head_summary"] = float(np.linalg.norm(np.asarray(head_grad)[:, :, :c]))
    out["grad_head_feature"] = float(np.linalg.norm(np.asarray(head_grad)[:, :, c:]))
    return out


def load_pairs(root, sequences, size, count, gap):
    """`count` (frame_a, frame_b, mask_a, mask_b) pairs `gap` frames apart, resized to `size`."""
    from PIL import Image

    from cosnet_tf.data import DavisDataset

    dataset = DavisDataset(root, sequences=sequences)  # None: every sequence
    pairs = []
    for sequence in dataset:
        for start in range(0, len(sequence) - gap, max(1, len(sequence) // 2)):
            def load(i):
                frame = Image.open(sequence.frame_paths[i]).convert("RGB").resize(size[::-1], Image.BILINEAR)
                mask = Image.open(sequence.mask_paths[i]).convert("L").resize(size[::-1], Image.NEAREST)
                return np.asarray(frame), np.asarray(mask) > 127

            (fa, ma), (fb, mb) = load(start), load(start + gap)
            pairs.append((fa, fb, ma, mb))
            if len(pairs) == count:
                return pairs
    return pairs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a saved .keras model")
    parser.add_argument("--davis-root", required=True)
    parser.add_argument("--sequences", nargs="+")
    parser.add_argument("--size", nargs=2, type=int, default=None, metavar=("H", "W"),
                        help="default: the model's inference size")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--gap", type=int, default=3, help="frames between query and reference")
    args = parser.parse_args(argv)

    from cosnet_tf.models import COSNet

    model = COSNet.from_preset(args.model)
    size = tuple(args.size or model.inference_size or (256, 256))
    pairs = load_pairs(args.davis_root, args.sequences, size, args.pairs, args.gap)
    if not pairs:
        raise SystemExit("no frame pairs: sequences too short for --gap")
    print(json.dumps({k: round(v, 5) for k, v in diagnose(model, pairs).items()}, indent=1))


if __name__ == "__main__":
    main()
