"""Can co-attention add anything on top of a trained frame-by-frame model? A fast test on frozen features.

Stage 1 is a trained `coattention=None` model (the shipped default). This script encodes
every training and dev frame once with its backbone (frames scaled to a 320-pixel short side,
as `cosnet segment` does; the cache is written once to --cache), then trains only a
co-attention module, its gate and a head on those frozen features, and scores dev J at
N = 0 and N = 5 (uniform references, Eq. 13 attention fusion, full-resolution masks, J mean of
the DAVIS-2016 protocol: every frame but the first and the last).

The new model starts exactly as the stage-1 model: its head's feature half of X = [Z, V]
(Eq. 10) holds the stage-1 head's weights, its summary half starts at zero, W = I with the
centred-cosine affinity. Without a backbone pass, a step costs about 0.5 s on 2 CPU cores,
so a training choice is measured in minutes, not hours.

    python benchmarks/coattention_on_frozen_features.py --cache /tmp/features \\
        [--model saved_models/cosnet_mobilenetv2_davis_none.keras] [--steps 1000] [--references 1]
        [--summary-lr-multiplier 100] [--train-head-features] [--optimizer adam]
        [--freeze-head-batch-norm] [--out result.json]

The cache needs about 2.1 GB (float16) for the 30 training and 10 dev sequences.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from cosnet_tf.data.davis import DavisDataset  # noqa: E402
from cosnet_tf.evaluation.region_similarity import region_similarity  # noqa: E402
from cosnet_tf.inference.input_size import aspect_preserving_size  # noqa: E402
from cosnet_tf.inference.reference_sampling import reference_plan  # noqa: E402
from cosnet_tf.models.cosnet import COSNet  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(REPO, "..", "shared", "data")
SHORT_SIDE = 320


def cache_features(model, dataset, path):
    """Writes (and then reads) the backbone features and full-size masks of every frame of `dataset`."""
    if not os.path.exists(path):
        features, sequence_ids, masks = [], [], {}
        for index, sequence in enumerate(dataset):
            frames = [np.asarray(Image.open(p).convert("RGB")) for p in sequence.frame_paths]
            height, width = aspect_preserving_size(frames[0].shape[:2], SHORT_SIDE, 16)
            x = np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.BILINEAR)) for f in frames])
            x = x.astype("float32")
            v = np.concatenate([np.asarray(model.encode(x[i:i + 8])) for i in range(0, len(x), 8)])
            features.append(v.astype(np.float16))
            sequence_ids += [index] * len(v)
            masks[sequence.name] = np.stack([np.asarray(Image.open(p).convert("L")) > 127 for p in sequence.mask_paths])
        tmp = path + ".partial.npz"
        np.savez(tmp, features=np.concatenate(features), sequence_ids=np.array(sequence_ids),
                 names=np.array([s.name for s in dataset]), **{"mask_" + k: v for k, v in masks.items()})
        os.replace(tmp, path)
    data = np.load(path)
    names = [str(n) for n in data["names"]]
    return data["features"], data["sequence_ids"], names, {n: data["mask_" + n] for n in names}


def stage_two_model(base, variant, rng, summary_init):
    """A co-attention COSNet that starts as `base` (a coattention=None model) does."""
    if variant == "none":
        return base
    model = COSNet(base.backbone, coattention=variant, coattention_config={"cosine": True},
                   head_filters=base.head_filters, head_depth=base.head_depth, inference_short_side=SHORT_SIDE)
    c = model.feature_channels
    for source, target in ((base.head_a, model.head_a), (base.head_b, model.head_b)):
        kernel = target.convs[0].kernel.numpy()
        kernel[:, :, c:, :] = source.convs[0].kernel.numpy()
        kernel[:, :, :c, :] = rng.normal(0, summary_init, kernel[:, :, :c, :].shape) if summary_init else 0.0
        target.convs[0].kernel.assign(kernel)
        for s, t in zip(source.norms[0].weights + source.classifier.weights,
                        target.norms[0].weights + target.classifier.weights):
            t.assign(s.numpy())
    return model


def dev_j(model, features, sequence_ids, names, masks, references):
    scores = []
    for index, name in enumerate(names):
        frames = np.where(sequence_ids == index)[0]
        plan = reference_plan(len(frames), references, "uniform")
        per_frame = []
        for t in range(1, len(frames) - 1):  # DAVIS-2016: not the first, not the last
            query = features[frames[t]][None].astype(np.float32)
            refs = features[frames[plan[t]]][None].astype(np.float32) if references else None
            prob = np.asarray(model.segment(query, refs, output_size=masks[name].shape[1:]))[0, ..., 0]
            per_frame.append(region_similarity(prob > 0.5, masks[name][t]))
        scores.append(float(np.mean(per_frame)))
    return float(np.mean(scores)), dict(zip(names, scores))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.path.join(REPO, "saved_models", "cosnet_mobilenetv2_davis_none.keras"))
    parser.add_argument("--train-root", default=os.path.join(SHARED, "davis2016-train"))
    parser.add_argument("--dev-root", default=os.path.join(SHARED, "davis2016-dev"))
    parser.add_argument("--cache", required=True, help="folder for the feature cache")
    parser.add_argument("--coattention", default="vanilla", help="vanilla | symmetric | channel | none")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--references", type=int, default=1, help="K references averaged per query (Eq. 13)")
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd",
                        help="adam: every weight steps at about the learning rate, whatever its gradient's scale")
    parser.add_argument("--summary-lr-multiplier", type=float, default=1.0,
                        help="gradient multiplier of the head's summary-half weights")
    parser.add_argument("--summary-init", type=float, default=0.0, help="std of the summary half's start")
    parser.add_argument("--summary-dropout", type=float, default=0.2)
    parser.add_argument("--train-head-features", action="store_true",
                        help="also train the head's feature half, batch norm and classifier")
    parser.add_argument("--freeze-head-batch-norm", action="store_true",
                        help="the head's batch norms keep the stage-1 statistics (inference mode): "
                        "N = 0 then stays exactly the stage-1 model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-refs", type=int, nargs="*", default=[0, 5])
    parser.add_argument("--out", help="JSON file for the result")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    tf.random.set_seed(args.seed)

    base = keras.saving.load_model(args.model)
    os.makedirs(args.cache, exist_ok=True)
    stem = os.path.splitext(os.path.basename(args.model))[0]
    train = cache_features(base, DavisDataset(args.train_root, split="train"),
                           os.path.join(args.cache, f"{stem}-train.npz"))
    dev = cache_features(base, DavisDataset(args.dev_root), os.path.join(args.cache, f"{stem}-dev.npz"))
    model = stage_two_model(base, args.coattention, rng, args.summary_init)

    features, sequence_ids, names, masks = train
    height, width = features.shape[1] * 16, features.shape[2] * 16
    labels = []
    for name in names:  # training labels at the model input size (nearest)
        m = masks[name]
        rows = (np.arange(height) * m.shape[1] / height).astype(int)
        cols = (np.arange(width) * m.shape[2] / width).astype(int)
        labels.append(m[:, rows][:, :, cols])
    labels = np.concatenate(labels).astype(np.float32)[..., None]
    frames_of = {}
    for i, s in enumerate(sequence_ids):
        frames_of.setdefault(s, []).append(i)

    head = model.head_a
    kernel = head.convs[0].kernel
    if model.coattention is None:
        variables = head.trainable_weights
    else:
        variables = model.coattention.trainable_weights + model.gate.trainable_weights
        variables += head.trainable_weights if args.train_head_features else [kernel]
    schedule = keras.optimizers.schedules.PolynomialDecay(args.learning_rate, max(args.steps, 1), 0.0, 0.9)
    if args.optimizer == "adam":
        optimizer = keras.optimizers.Adam(schedule)
    else:
        optimizer = keras.optimizers.SGD(schedule, momentum=0.9)
    optimizer.build(variables)
    c = model.feature_channels
    gradient_scale = None
    if model.coattention is not None:
        scale = np.ones(tuple(kernel.shape), np.float32)
        scale[:, :, :c, :] = args.summary_lr_multiplier
        if not args.train_head_features:
            scale[:, :, c:, :] = 0.0  # the stage-1 head stays as it is
        gradient_scale = tf.constant(scale)

    @tf.function
    def step(query, references, y, keep):
        with tf.GradientTape() as tape:
            if model.coattention is None:
                x = query
            else:
                k = references.shape[1]
                summaries = [model.gate(model.coattention.summarize_query(query, references[:, i])) for i in range(k)]
                x = tf.concat([tf.add_n(summaries) / k * keep[:, None, None, None], query], -1)
            logits = head(x, output_size=(height, width), return_logits=True,
                          training=not args.freeze_head_batch_norm)
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
            decay = 5e-4 * tf.add_n([tf.reduce_sum(v ** 2) for v in variables if len(v.shape) > 1]) / 2
            total = loss + decay  # inside the tape
        grads = tape.gradient(total, variables)
        pairs = [(g * gradient_scale if gradient_scale is not None and v is kernel else g, v)
                 for g, v in zip(grads, variables) if g is not None]
        optimizer.apply_gradients(pairs)
        return loss

    start, losses = time.time(), []
    for it in range(args.steps):
        queries = rng.integers(0, len(features), args.batch_size)
        refs = np.stack([features[rng.choice(frames_of[sequence_ids[i]], args.references)] for i in queries])
        refs = refs.astype(np.float32)
        q, y = features[queries].astype(np.float32), labels[queries].copy()
        flip = rng.random(args.batch_size) < 0.5  # horizontal flips of features and masks
        q[flip], y[flip] = q[flip, :, ::-1], y[flip, :, ::-1]
        flip = rng.random(args.batch_size) < 0.5
        refs[flip] = refs[flip, :, :, ::-1]
        keep = (rng.random(args.batch_size) >= args.summary_dropout).astype(np.float32)
        losses.append(float(step(q, refs, y, keep)))
        if (it + 1) % 100 == 0:
            print(f"step {it + 1}: loss {np.mean(losses[-100:]):.4f} ({time.time() - start:.0f} s)", flush=True)

    result = {k: v for k, v in vars(args).items()}
    result["train_seconds"] = time.time() - start
    if model.coattention is not None:
        k = kernel.numpy()
        result["summary_weights_mean_abs"] = float(np.abs(k[:, :, :c]).mean())
        result["feature_weights_mean_abs"] = float(np.abs(k[:, :, c:]).mean())
    for n in args.eval_refs if model.coattention is not None else [0]:
        result[f"J_N{n}"], result[f"J_N{n}_per_sequence"] = dev_j(model, *dev, references=n)
        print(f"dev J at N = {n}: {result[f'J_N{n}']:.4f}", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
