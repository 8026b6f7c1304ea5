"""Does co-attention learn recurrence when the backbone cannot help? The recurrence benchmark on frozen features.

Renders the recurrence benchmark (`RecurrenceVideoGenerator`: in every frame one or two
distractors as salient as the primary object, with looks drawn anew per frame, so only
recurrence across frames marks the primary object), encodes every frame once with the
`mobilenetv2` preset's backbone from the DeepLabv3 PASCAL weights (frozen, output stride 16),
then trains only a co-attention module (vanilla, centred cosine, W = I), its gate and a
segmentation head from scratch on those features, with summary dropout 0.2. Held-out J
(the DAVIS J of each frame but the first and last, averaged) is measured at N = 0, 1 and 5
through `COSNet.segment` (Eq. 13, attention fusion). `--coattention none` trains the head on
V alone: what one frame allows.

    python benchmarks/recurrence_on_frozen_features.py --cache /tmp/recurrence-features \\
        [--coattention vanilla|none] [--optimizer adam|sgd] [--learning-rate 1e-3] [--steps 1500]

About 5 minutes of training on one CPU thread at 256x256 (0.3 s a step), plus about 2 minutes
to render and encode 220 videos once.
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

from cosnet_tf import COSNet  # noqa: E402
from cosnet_tf.data import RecurrenceVideoGenerator  # noqa: E402
from cosnet_tf.evaluation.region_similarity import region_similarity  # noqa: E402
from cosnet_tf.inference.reference_sampling import reference_plan  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASCAL = os.path.join(REPO, "..", "shared", "weights", "deeplabv3_mobilenetv2_1.0_pascal_byname.h5")


def build(coattention, weights):
    settings = {"coattention": None} if coattention == "none" else {
        "coattention": coattention, "coattention_config": {"cosine": True}}
    return COSNet.from_preset("mobilenetv2", backbone_config={"output_stride": 16}, backbone_weights=weights,
                              **settings)


def cached_features(args):
    """(features [V, T, h, w, C] float32, masks [V, T, H, W] bool), rendered and encoded once."""
    path = os.path.join(args.cache, f"recurrence-{args.size}-{args.train_videos}+{args.val_videos}.npz")
    if not os.path.exists(path):
        os.makedirs(args.cache, exist_ok=True)
        encoder = build("none", args.weights)
        generator = RecurrenceVideoGenerator(args.train_videos + args.val_videos, args.frames,
                                             (args.size, args.size), seed=0)
        features, masks = [], []
        for index in range(generator.num_sequences):
            sequence = generator.render_sequence(index)
            features.append(np.asarray(encoder.encode(sequence.frames.astype("float32"))).astype(np.float16))
            masks.append(sequence.masks)
        np.savez(path + ".partial.npz", features=np.stack(features), masks=np.stack(masks))
        os.replace(path + ".partial.npz", path)
    data = np.load(path)
    return data["features"].astype(np.float32), data["masks"]


def held_out_j(model, features, masks, videos, references):
    scores = []
    for video in videos:
        count = features.shape[1]
        plan = reference_plan(count, references, "uniform")
        for t in range(1, count - 1):
            refs = features[video][plan[t]][None] if references else None
            probability = np.asarray(model.segment(features[video, t : t + 1], refs, output_size=masks.shape[2:]))
            scores.append(region_similarity(probability[0, ..., 0] > 0.5, masks[video, t]))
    return float(np.mean(scores))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", required=True, help="folder for the rendered, encoded benchmark")
    parser.add_argument("--weights", default=PASCAL, help="backbone weights (the DeepLabv3 PASCAL file)")
    parser.add_argument("--coattention", default="vanilla", help="vanilla | symmetric | channel | none")
    parser.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--summary-dropout", type=float, default=0.2)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--train-videos", type=int, default=200)
    parser.add_argument("--val-videos", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="JSON file for the result")
    args = parser.parse_args(argv)

    features, masks = cached_features(args)
    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = build(args.coattention, args.weights)
    labels = tf.image.resize(masks.reshape(-1, *masks.shape[2:], 1).astype("float32"), (64, 64), "area")
    labels = labels.numpy().reshape(*masks.shape[:2], 64, 64, 1)
    variables = model.head_a.trainable_variables
    if model.coattention is not None:
        variables += model.coattention.trainable_variables + model.gate.trainable_variables
    if args.optimizer == "adam":
        optimizer = keras.optimizers.Adam(args.learning_rate)
    else:
        optimizer = keras.optimizers.SGD(args.learning_rate, momentum=0.9)

    @tf.function
    def step(query, reference, y, keep):
        with tf.GradientTape() as tape:
            summary = None
            if model.coattention is not None:
                summary = model.gate(model.coattention.summarize_query(query, reference)) * keep[:, None, None, None]
            logits = model._predict(model.head_a, summary, query, (64, 64), True, True)
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(y, logits))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    started, count = time.time(), features.shape[1]
    for it in range(args.steps):
        videos = rng.integers(0, args.train_videos, args.batch_size)
        a = rng.integers(0, count, args.batch_size)
        b = (a + rng.integers(1, count, args.batch_size)) % count  # another frame of the same video
        keep = (rng.random(args.batch_size) >= args.summary_dropout).astype("float32")
        loss = float(step(features[videos, a], features[videos, b], labels[videos, a], keep))
        if (it + 1) % 250 == 0:
            print(f"step {it + 1}: loss {loss:.4f} ({time.time() - started:.0f} s)", flush=True)
    result = dict(vars(args), train_seconds=time.time() - started)
    val = range(args.train_videos, args.train_videos + args.val_videos)
    for n in ([0, 1, 5] if model.coattention is not None else [0]):
        result[f"J_N{n}"] = held_out_j(model, features, masks, val, n)
        print(f"held-out J at N = {n}: {result[f'J_N{n}']:.4f}", flush=True)
    if model.coattention is not None:
        kernel, c = np.asarray(model.head_a.convs[0].kernel), model.feature_channels
        result["summary_weights_mean_abs"] = float(np.abs(kernel[:, :, :c]).mean())
        result["feature_weights_mean_abs"] = float(np.abs(kernel[:, :, c:]).mean())
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
