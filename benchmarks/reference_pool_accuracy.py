"""What pooled reference features (``reference_pool``) cost in accuracy, on real video.

``VideoSegmenter(reference_pool=K)`` average-pools each reference's features
K x K before the co-attention, which divides the co-attention's cost by about
K^2 (``benchmarks/segment_speed.py`` times it) but approximates Eq. 6-7. This
segments the held-out DAVIS-2016 dev sequences of the shipped model at their
full 480x854 resolution with N = 5 (uniform sampling, attention fusion) for
each K, and prints mean J (DAVIS protocol) and the largest change of a
probability against the exact K = 1.

Needs ../shared (the DAVIS dev sequences). Usage (from the repository root)::

    python benchmarks/reference_pool_accuracy.py
    python benchmarks/reference_pool_accuracy.py --pools 1 2 --model saved_models/cosnet_mobilenetv2_davis.keras
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script without installing
    sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from cosnet_tf import COSNet  # noqa: E402
from cosnet_tf.data import DavisDataset  # noqa: E402
from cosnet_tf.inference import VideoSegmenter  # noqa: E402
from cosnet_tf.tuning import VideoJEvaluator  # noqa: E402

HELD_OUT = ["car-shadow", "libby", "scooter-black"]  # the shipped model's held-out sequences


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(REPO_ROOT / "saved_models" / "cosnet_mobilenetv2_davis.keras"))
    parser.add_argument("--davis-root", default=str(REPO_ROOT.parent / "shared" / "data" / "davis2016-dev"))
    parser.add_argument("--sequences", nargs="+", default=HELD_OUT)
    parser.add_argument("--pools", nargs="+", type=int, default=[1, 2, 4])
    parser.add_argument("--refs", type=int, default=5)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not os.path.isdir(args.davis_root):
        print(f"needs the DAVIS dev sequences at {args.davis_root} (../shared); skipped")
        return 0
    model = COSNet.from_preset(args.model)
    # Frames and masks read once; each sequence encoded once, at full resolution, for every K.
    evaluator = VideoJEvaluator(DavisDataset(args.davis_root, sequences=args.sequences))
    print(f"{args.model}: {', '.join(args.sequences)}, N = {args.refs}, uniform sampling, "
          f"attention fusion, whole frames")
    j = {pool: {} for pool in args.pools}
    largest_change = {pool: 0.0 for pool in args.pools}
    j_n0 = {}
    for name, frames, masks in evaluator.sequences:
        size = tuple(frames.shape[1:3])
        encoded = VideoSegmenter(model, input_size=size).encode_video(frames)
        j_n0[name] = evaluator.sequence_j(VideoSegmenter(model, 0, input_size=size).segment_encoded(encoded), masks)
        exact = None
        for pool in args.pools:
            segmenter = VideoSegmenter(model, args.refs, input_size=size, reference_pool=pool)
            probabilities = segmenter.segment_encoded(encoded)
            j[pool][name] = evaluator.sequence_j(probabilities, masks)
            if pool == 1:
                exact = probabilities
            elif exact is not None:
                largest_change[pool] = max(largest_change[pool], float(np.max(np.abs(probabilities - exact))))
    print(f"  N = 0 (no co-attention): mean J {np.mean(list(j_n0.values())):.4f}")
    for pool in args.pools:
        line = (f"  N = {args.refs}, reference_pool {pool}: mean J {np.mean(list(j[pool].values())):.4f} ("
                + ", ".join(f"{name} {value:.3f}" for name, value in j[pool].items())
                + ")")
        if pool != 1 and 1 in args.pools:
            line += f"; largest |p - p(K=1)| {largest_change[pool]:.3f}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
