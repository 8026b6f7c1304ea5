"""Seconds per 480p frame of the dense CRF: one process against crf_map over the cores.

The CRF (pydensecrf, single-threaded) refines each frame on its own, so
frames can be spread over processes with :func:`cosnet_tf.postprocessing.crf_map`.
Frames are synthetic 480x854 videos; the probabilities are their masks,
blurred and noised the way a network's output is soft and wrong in places.
Outputs of both runs are checked to be identical.

Usage (from the repository root)::

    python benchmarks/crf_speed.py
    python benchmarks/crf_speed.py --frames 16 --workers 4 --iterations 10
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script without installing
    sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from cosnet_tf.data import SyntheticVideoGenerator  # noqa: E402
from cosnet_tf.postprocessing import DenseCRF, crf_map  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=8, help="frames timed (default 8)")
    parser.add_argument("--size", nargs=2, type=int, default=(480, 854), metavar=("H", "W"))
    parser.add_argument("--workers", type=int, default=os.cpu_count(),
                        help=f"processes for crf_map (default: all {os.cpu_count()} CPUs)")
    parser.add_argument("--iterations", type=int, default=5, help="mean-field iterations (default 5)")
    return parser.parse_args(argv)


def soft_probabilities(masks, seed=0):
    """Network-like probabilities from masks: blurred edges, noise, a few wrong blobs."""
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    out = []
    for mask in masks:
        image = Image.fromarray((mask * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(6))
        probability = np.asarray(image, np.float32) / 255.0
        probability = 0.1 + 0.8 * probability + rng.normal(0, 0.08, probability.shape)
        out.append(np.clip(probability, 0.0, 1.0).astype(np.float32))
    return out


def main(argv=None):
    args = parse_args(argv)
    sequence = SyntheticVideoGenerator(num_sequences=1, num_frames=args.frames,
                                       image_size=args.size, seed=0).render_sequence(0)
    images = list(sequence.frames)
    probabilities = soft_probabilities(sequence.masks)
    crf = DenseCRF(iterations=args.iterations)
    crf(images[0], probabilities[0])  # import pydensecrf and touch the code once

    started = time.perf_counter()
    single = crf_map(images, probabilities, workers=1, crf=crf)
    single_seconds = (time.perf_counter() - started) / args.frames

    started = time.perf_counter()
    spread = crf_map(images, probabilities, workers=args.workers, crf=crf)
    spread_seconds = (time.perf_counter() - started) / args.frames

    same = all(np.array_equal(a, b) for a, b in zip(single, spread))
    height, width = args.size
    print(f"dense CRF, {width}x{height}, {args.iterations} iterations, {args.frames} frames: "
          f"one process {single_seconds:.3f} s/frame; crf_map over {args.workers} processes "
          f"{spread_seconds:.3f} s/frame (pool start-up included), "
          f"speed-up {single_seconds / spread_seconds:.2f}x; identical outputs: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
