"""Which backbone features let the co-attention see what recurs? A probe on the recurrence benchmark.

The co-attention tells the primary object by comparing a query position's feature with the
reference frame's (Eq. 6). That only works if the features keep the objects' looks. For each
held-out video of the recurrence benchmark and each layer below, every object position i of
frame t gets r(i) = max over the positions j of frame t + 3 of cos(f_i, f_j) (features centred
over each frame's positions, unit length, no training). Printed per layer:

- AUC: how well r separates primary-object positions from distractor positions (0.5: not at all);
- primary first: the fraction of frames where the primary object has the highest mean r of
  the frame's objects (what a co-attention must find), against picking an object at random.

    python benchmarks/recurrence_feature_probe.py [--weights W.h5 | M.keras] [--layers ...]

The default is the DeepLabv3 PASCAL MobileNetV2 at output stride 8 on the 20 held-out videos of
the 128x128 benchmark of `training/configs/recurrence.toml` (about a minute on
one CPU core).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from cosnet_tf.backbones import MobileNetV2DeepLabV3Backbone, load_weights_by_name  # noqa: E402
from cosnet_tf.data.benchmark_data import benchmark_generator  # noqa: E402
from cosnet_tf.training.run_config import read_config_file  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASCAL = os.path.join(REPO, "..", "shared", "weights", "deeplabv3_mobilenetv2_1.0_pascal_byname.h5")
LAYERS = ("block_2_add", "block_5_add", "block_9_add", "block_12_add", "block_15_add",
          "block_16_project_BN", "aspp_concat_projection_relu")


def recurrence_benchmark(image_size=None):
    """The benchmark of training/configs/recurrence.toml ([benchmark]) and its held-out video
    indices (the last num_val_sequences); `image_size` replaces the config's size."""
    settings = dict(read_config_file(os.path.join(REPO, "training", "configs", "recurrence.toml"))["benchmark"])
    if image_size is not None:
        settings["image_size"] = image_size
    generator = benchmark_generator(settings, settings.pop("generator", "recurrence"))
    return generator, generator.val_sequence_indices


def auc(positives, negatives):
    """Probability that a random positive scores above a random negative (Mann-Whitney)."""
    positives, negatives = np.asarray(positives), np.asarray(negatives)
    ranks = np.concatenate([positives, negatives]).argsort().argsort() + 1
    return (ranks[: len(positives)].sum() - len(positives) * (len(positives) + 1) / 2) / (
        len(positives) * len(negatives))


def on_grid(mask, height, width):
    """A full-resolution mask as the feature grid's cells more than half covered."""
    rows, cols = mask.shape
    return mask.reshape(height, rows // height, width, cols // width).mean(axis=(1, 3)) > 0.5


def probe(weights, layers, generator, videos, offset=3):
    backbone = MobileNetV2DeepLabV3Backbone(alpha=1.0, output_stride=8)
    load_weights_by_name(backbone, weights, allow_missing=("aspp_",))
    model = keras.Model(backbone.input, [backbone.get_layer(name).output for name in layers])
    scores = {name: {"primary": [], "distractor": [], "first": [], "chance": []} for name in layers}
    for index in videos:
        sequence = generator.render_sequence(index)
        outputs = model.predict(sequence.frames.astype("float32"), verbose=0)
        for name, features in zip(layers, outputs):
            count, height, width, channels = features.shape
            features = features.reshape(count, height * width, channels)
            features = features - features.mean(axis=1, keepdims=True)
            features /= np.linalg.norm(features, axis=-1, keepdims=True) + 1e-6
            for t in range(count):
                r = (features[t] @ features[(t + offset) % count].T).max(axis=1)
                objects = [on_grid(sequence.masks[t], height, width).reshape(-1)] + [
                    on_grid(m, height, width).reshape(-1) for m in sequence.distractor_masks[t] if m.any()]
                entry = scores[name]
                entry["primary"].extend(r[objects[0]])
                for distractor in objects[1:]:
                    entry["distractor"].extend(r[distractor])
                if all(o.any() for o in objects):
                    entry["first"].append(int(np.argmax([r[o].mean() for o in objects])) == 0)
                    entry["chance"].append(1.0 / len(objects))
    return scores


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=PASCAL, help="a DeepLabv3 MobileNetV2 .h5 or a saved COSNet .keras")
    parser.add_argument("--layers", nargs="+", default=list(LAYERS))
    parser.add_argument("--size", type=int, nargs=2, default=None, help="default: recurrence.toml's")
    args = parser.parse_args()
    if not os.path.exists(args.weights):
        sys.exit(f"weights not found: {args.weights} (pass --weights)")
    generator, held_out = recurrence_benchmark(args.size)
    scores = probe(args.weights, args.layers, generator, held_out)
    height, width = generator.image_size
    print(f"{args.weights}, {len(held_out)} held-out videos at {height}x{width}")
    print(f"{'layer':30s} {'AUC':>6s} {'primary first':>14s} {'chance':>7s}")
    for name in args.layers:
        entry = scores[name]
        print(f"{name:30s} {auc(entry['primary'], entry['distractor']):6.3f} "
              f"{np.mean(entry['first']):14.3f} {np.mean(entry['chance']):7.3f}")


if __name__ == "__main__":
    main()
