"""Throughput of the frame-pair input pipeline alone (no model).

Measures how many training pairs per second ``make_frame_pair_dataset``
delivers -- decoding, augmentation, batching -- on DAVIS-layout data, so the
input pipeline can be ruled in or out as a training bottleneck.

Usage (from the repository root)::

    python benchmarks/input_pipeline.py                       # ../shared/data/davis2016-dev
    python benchmarks/input_pipeline.py /path/to/DAVIS --size 473 473 --batch-size 8
    python benchmarks/input_pipeline.py --no-augment --threads 2

Prints one line per configuration with pairs/s, batches/s and the time per
batch.  The first ``--warmup`` batches (thread pool start-up, autotuning) are
excluded from the timing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "davis2016-dev"

if str(REPO_ROOT) not in sys.path:  # run as a script without installing
    sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from cosnet_tf.data import DEFAULT_AUGMENTATION, DavisDataset, make_frame_pair_dataset  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA),
                        help=f"DAVIS-layout dataset root (default: {DEFAULT_DATA})")
    parser.add_argument("--resolution", default="480p", help="resolution folder (default 480p)")
    parser.add_argument("--size", type=int, nargs=2, default=(320, 320), metavar=("H", "W"),
                        help="training size (default 320 320)")
    parser.add_argument("--batch-size", type=int, default=4, help="pairs per batch (default 4)")
    parser.add_argument("--batches", type=int, default=100,
                        help="timed batches (default 100; epochs repeat as needed)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed warm-up batches (default 5)")
    parser.add_argument("--no-augment", action="store_true",
                        help="plain resize instead of the default augmentation")
    parser.add_argument("--threads", type=int, default=0,
                        help="private tf.data thread pool size (default 0: TensorFlow's choice)")
    parser.add_argument("--seed", type=int, default=0, help="pipeline seed (default 0)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    data = Path(args.data)
    if not data.is_dir():
        print(f"dataset not found: '{data}'", file=sys.stderr)
        return 2
    videos = DavisDataset(data, resolution=args.resolution)
    pairs = make_frame_pair_dataset(
        videos,
        image_size=args.size,
        batch_size=args.batch_size,
        augmentation=None if args.no_augment else DEFAULT_AUGMENTATION,
        seed=args.seed,
    ).repeat()
    if args.threads:
        options = tf.data.Options()
        options.threading.private_threadpool_size = args.threads
        pairs = pairs.with_options(options)

    iterator = iter(pairs)
    for _ in range(args.warmup):
        next(iterator)
    start = time.perf_counter()
    for _ in range(args.batches):
        inputs, _targets = next(iterator)
    # Make sure the last batch is materialised before the clock stops.
    _ = inputs["frame_a"].numpy()
    elapsed = time.perf_counter() - start

    num_pairs = args.batches * args.batch_size
    print(f"data: {data} ({len(videos)} sequences, {videos.num_frames} frames, "
          f"{args.resolution})")
    print(f"config: size={args.size[0]}x{args.size[1]} batch={args.batch_size} "
          f"augment={'no' if args.no_augment else 'yes'} "
          f"threads={args.threads or 'auto'} cpus={os.cpu_count()}")
    print(f"throughput: {num_pairs / elapsed:.1f} pairs/s, {args.batches / elapsed:.2f} batches/s, "
          f"{1000.0 * elapsed / args.batches:.1f} ms/batch "
          f"({args.batches} batches after {args.warmup} warm-up)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
