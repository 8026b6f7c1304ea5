"""Resident memory and speed of online segmentation over a long synthetic stream.

Feeds `OnlineSegmenter` a generated stream (a bright square drifting over noise, frames made
one at a time, nothing kept) and prints, at each checkpoint, the process's resident memory
(VmRSS), the feature maps the reference store holds, frames/s and the median per-frame
latency since the previous checkpoint. Flat memory means the RSS after 5,000 frames is that
after 200. Linux only (reads /proc/self/status).

Usage (from the repository root)::

    python benchmarks/online_memory.py                                  # 480x854 frames, 200 frames
    python benchmarks/online_memory.py --size 96 160 --input-size 96 160 --checkpoints 200 5000
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

from cosnet_tf.inference import OnlineSegmenter  # noqa: E402
from cosnet_tf.models.loading import load_model  # noqa: E402


def resident_mib():
    """This process's resident memory (VmRSS) in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def synthetic_stream(count, size, seed=0):
    """``count`` frames of ``size``, made one at a time: a bright square drifting over noise."""
    height, width = size
    rng = np.random.default_rng(seed)
    side = max(4, min(height, width) // 4)
    for index in range(count):
        frame = rng.integers(0, 90, (height, width, 3), dtype=np.uint8)
        top = (height - side) // 2
        left = (index * 3) % max(1, width - side)
        frame[top:top + side, left:left + side] = 230
        yield frame


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a saved .keras model (default: the shipped one)")
    parser.add_argument("--size", nargs=2, type=int, default=[480, 854], metavar=("H", "W"), help="frame size")
    parser.add_argument("--input-size", nargs=2, type=int, metavar=("H", "W"),
                        help="the model's input size (default: the model's own)")
    parser.add_argument("--refs", type=int, default=5)
    parser.add_argument("--checkpoints", nargs="+", type=int, default=[200], metavar="FRAMES")
    args = parser.parse_args(argv)

    model = load_model(args.model)
    segmenter = OnlineSegmenter(model, args.refs, input_size=args.input_size)
    checkpoints = sorted(args.checkpoints)
    print(f"{args.model or 'shipped model'}: frames {args.size[0]}x{args.size[1]}, N = {args.refs}, online; "
          f"RSS after loading {resident_mib():.0f} MiB", flush=True)
    latencies = []
    last = time.perf_counter()
    for index, _ in segmenter.iter_segment(synthetic_stream(checkpoints[-1], tuple(args.size))):
        now = time.perf_counter()
        latencies.append(now - last)
        last = now
        if index + 1 in checkpoints:
            run = segmenter.last_run
            print(f"after {index + 1:6d} frames: RSS {resident_mib():7.1f} MiB, store {run['max_cached']} of "
                  f"{run['limit']} feature maps at most, model input {run['input_size'][0]}x{run['input_size'][1]}, "
                  f"{len(latencies) / sum(latencies):.2f} frames/s, median latency "
                  f"{1000 * float(np.median(latencies)):.0f} ms", flush=True)
            latencies = []
    return 0


if __name__ == "__main__":
    sys.exit(main())
