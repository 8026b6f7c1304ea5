"""J on the dev sequences with a foreign object pasted into every other frame, at N = 0 and N = 5.

What the paper's Fig. 1 claims: a salient object that does not recur in the video is
background, and only comparing frames (the co-attention, N > 0) can tell it from the primary
object. Every other frame of each dev sequence (frames 1, 3, 5, ...) gets an object cut with
its mask from an annotated frame of a training video (`cosnet_tf.data.distractors.paste_object`:
its bounding box scaled so that it spans 30-70% of the frame's tighter side, pasted whole at a
random position). The objects come from the training videos in shuffled rounds: one video is
used once per round, never twice in a row, and each paste takes a new frame of it, a new size
and a new place, so a pasted object does not recur within 2 x 30 frames. Everything is drawn
from `--seed` and the sequence's name: the same composites on every run.

The ground truth stays the dev object; where a pasted object covers it (alpha > 0.5), those
pixels are removed from the ground truth (the paste occludes the object; the position is not
chosen to avoid it). Each composite video is encoded once and segmented at every N of `--refs`
as `cosnet segment` does (`VideoSegmenter`: the model's input size, uniform sampling, attention
fusion unless `--fusion`), and scored with the DAVIS-2016 protocol (J of every frame but the
first and the last, per sequence, then the mean over sequences).

    python benchmarks/distractor_check.py [MODEL.keras] [--refs 0 5] [--seed 0] [--flip]
        [--dev-root ../shared/data/davis2016-dev] [--train-root ../shared/data/davis2016-train]
        [--sequences bmx-trees ...] [--clean] [--out DIR]

With `--clean`, the original sequences are scored too. `--out` keeps the composites of the
first frames (a few JPEGs per sequence) and scores.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zlib

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:  # run as a script without installing
    sys.path.insert(0, REPO_ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from cosnet_tf.utils.choices import FUSIONS  # noqa: E402  (plain tuples: no TensorFlow)

SHARED = os.path.join(REPO_ROOT, "..", "shared")


class TrainingObjects:
    """The objects of the training videos, read on demand: `draw(video, rng)` cuts one from a frame."""

    def __init__(self, root):
        from cosnet_tf.data import DavisDataset

        self.sequences = list(DavisDataset(root))

    def __len__(self):
        return len(self.sequences)

    def draw(self, video, rng):
        """(frame uint8 [H, W, 3], mask float32 [H, W] of 0/1) of a random frame of `video` with an object."""
        from cosnet_tf.data.decoding import load_rgb_image, read_mask

        sequence = self.sequences[video]
        for index in rng.permutation(len(sequence.frame_paths)):
            mask = read_mask(sequence.mask_paths[index]).astype(np.float32)
            if mask.any():
                return load_rgb_image(sequence.frame_paths[index]), mask
        raise ValueError(f"training video {sequence.name!r} has no annotated object to paste")


def source_order(num_pastes, num_videos, rng):
    """Which video each paste takes its object from: shuffled rounds, never the same video twice in a row.

    >>> order = source_order(7, 3, np.random.default_rng(0))
    >>> sorted(order[:3]), all(a != b for a, b in zip(order, order[1:]))
    ([0, 1, 2], True)
    """
    if num_videos < 2:
        raise ValueError(f"distractors need objects of at least 2 videos, got {num_videos}")
    order = []
    while len(order) < num_pastes:
        round_ = list(rng.permutation(num_videos))
        if order and round_[0] == order[-1]:  # a round's first must not repeat the last paste
            round_[0], round_[-1] = round_[-1], round_[0]
        order.extend(int(v) for v in round_)
    return order[:num_pastes]


def sequence_seed(seed, name):
    """The seed of one sequence's composites: from `seed` and the name (stable across runs and machines)."""
    return [int(seed), zlib.crc32(name.encode("utf-8"))]


def composite_sequence(frames, masks, objects, seed, every=2):
    """A sequence with a foreign object pasted into every `every`-th frame (frames every-1, 2*every-1, ...).

    Args:
        frames: uint8 [T, H, W, 3].
        masks: [T, H, W] ground truth, nonzero = the primary object.
        objects: `len(objects)` videos and `objects.draw(video, rng)` -> (frame, mask), e.g.
            `TrainingObjects`.
        seed: an int or a list of ints (`sequence_seed`): the same seed gives the same composites.
        every: paste into one frame of every `every`.

    Returns:
        (frames uint8 [T, H, W, 3], masks uint8 [T, H, W] of 0/1 with the pasted pixels removed,
        sources: the video each frame's object came from, None for a frame left as it was).
    """
    import tensorflow as tf

    from cosnet_tf.data.distractors import paste_object

    rng = np.random.default_rng(seed)
    pasted = list(range(every - 1, len(frames), every))
    order = source_order(len(pasted), len(objects), rng)
    out_frames = np.array(frames, np.uint8, copy=True)
    out_masks = (np.asarray(masks) > 0).astype(np.uint8)
    sources = [None] * len(frames)
    for index, video in zip(pasted, order):
        source_frame, source_mask = objects.draw(video, rng)
        paste_seed = tf.constant(rng.integers(0, 2**31 - 1, size=2), tf.int64)
        frame, mask = paste_object(out_frames[index].astype(np.float32), out_masks[index, ..., None].astype(np.float32),
                                   source_frame.astype(np.float32), source_mask[..., None], paste_seed)
        out_frames[index] = np.clip(np.round(frame.numpy()), 0, 255).astype(np.uint8)
        out_masks[index] = (mask.numpy()[..., 0] > 0.5).astype(np.uint8)
        sources[index] = video
    return out_frames, out_masks, sources


def bootstrap_interval(differences, seed=0, resamples=9999, confidence=0.95):
    """The percentile bootstrap interval of the mean of per-sequence differences."""
    differences = np.asarray(differences, np.float64)
    rng = np.random.default_rng(seed)
    means = differences[rng.integers(0, len(differences), (resamples, len(differences)))].mean(axis=1)
    tail = 100 * (1 - confidence) / 2
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?", help="a saved .keras model (default: the shipped one)")
    parser.add_argument("--dev-root", default=os.path.join(SHARED, "data", "davis2016-dev"))
    parser.add_argument("--train-root", default=os.path.join(SHARED, "data", "davis2016-train"))
    parser.add_argument("--sequences", nargs="+", help="default: every dev sequence")
    parser.add_argument("--refs", type=int, nargs="+", default=[0, 5], metavar="N")
    parser.add_argument("--fusion", default=None, choices=FUSIONS, help="default: the model's own")
    parser.add_argument("--flip", action="store_true", help="test-time flip averaging")
    parser.add_argument("--seed", type=int, default=0, help="seed of the composites")
    parser.add_argument("--clean", action="store_true", help="also score the sequences without distractors")
    parser.add_argument("--out", help="write scores.json and a few composites here")
    args = parser.parse_args(argv)
    for root in (args.dev_root, args.train_root):
        if not os.path.isdir(root):
            raise SystemExit(f"not found: {root} (the project's ../shared folder)")

    from cosnet_tf.data import DavisDataset
    from cosnet_tf.data.decoding import load_rgb_image, read_mask
    from cosnet_tf.evaluation.video_j_evaluator import VideoJEvaluator
    from cosnet_tf.inference import VideoSegmenter
    from cosnet_tf.models.loading import load_model

    model = load_model(args.model) if args.model else load_model()
    objects = TrainingObjects(args.train_root)
    dev = DavisDataset(args.dev_root, args.sequences)
    settings = [("distractors", n) for n in args.refs] + ([("clean", n) for n in args.refs] if args.clean else [])
    scores = {f"{kind} N={n}": {} for kind, n in settings}
    started = time.perf_counter()
    for sequence in dev:
        frames = np.stack([load_rgb_image(path) for path in sequence.frame_paths])
        masks = np.stack([read_mask(path, threshold=0) for path in sequence.mask_paths])
        seed = sequence_seed(args.seed, sequence.name)
        composite, composite_masks, _ = composite_sequence(frames, masks, objects, seed)
        if args.out:
            from PIL import Image

            os.makedirs(os.path.join(args.out, sequence.name), exist_ok=True)
            for index in range(min(4, len(composite))):
                Image.fromarray(composite[index]).save(os.path.join(args.out, sequence.name, f"{index:05d}.jpg"))
        for kind, (video, truth) in (("distractors", (composite, composite_masks)), ("clean", (frames, masks))):
            if kind == "clean" and not args.clean:
                continue
            encoded = VideoSegmenter(model, num_references=0, flip=args.flip).encode_video(video)
            for n in args.refs:
                segmenter = VideoSegmenter(model, num_references=n, fusion=args.fusion, flip=args.flip)
                j = VideoJEvaluator.sequence_j(segmenter.segment_encoded(encoded), truth)
                scores[f"{kind} N={n}"][sequence.name] = j
        line = "  ".join(f"{key} {values[sequence.name]:.3f}" for key, values in scores.items())
        print(f"{sequence.name:16s} {line}", flush=True)
    summary = {key: float(np.mean(list(values.values()))) for key, values in scores.items()}
    print("mean J: " + "  ".join(f"{key} {value:.3f}" for key, value in summary.items()))
    low, high = min(args.refs), max(args.refs)
    if low != high:
        for kind in ("distractors", "clean") if args.clean else ("distractors",):
            differences = [scores[f"{kind} N={high}"][name] - scores[f"{kind} N={low}"][name]
                           for name in scores[f"{kind} N={low}"]]
            interval = bootstrap_interval(differences) if len(differences) > 1 else (np.nan, np.nan)
            print(f"{kind}: J(N={high}) - J(N={low}) = {np.mean(differences):+.3f} (95% bootstrap interval "
                  f"over {len(differences)} sequences {interval[0]:+.3f} to {interval[1]:+.3f})")
    fusion = args.fusion or f"the model's own, {getattr(model, 'reference_fusion', 'attention')}"
    print(f"{time.perf_counter() - started:.0f} s (seed {args.seed}, fusion {fusion}, flip {args.flip})")
    if args.out:
        with open(os.path.join(args.out, "scores.json"), "w") as file:
            json.dump({"per_sequence": scores, "mean": summary, "seed": args.seed, "refs": args.refs,
                       "fusion": args.fusion, "flip": args.flip}, file, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
