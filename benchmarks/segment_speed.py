"""Speed of video segmentation: the cached VideoSegmenter against the authors' procedure.

The authors' test script segments a query by running the Siamese network on
(query, reference) for each of its N reference frames -- both frames
re-encoded every time, both branches' summaries, heads and saliency outputs
computed -- and averaging the N ``pred_a``. :class:`VideoSegmenter` encodes
each frame once, reuses the reference features for every query and computes
only the query branch. Both run here in one process, in TensorFlow graphs
(``tf.function``), traced before timing, on random frames and random weights
(the speed does not depend on the weights).

Part 1: frames/s of both at 473x473 (the authors' input size) for N = 0, 1,
2, 5 and each preset (or saved .keras model) given, and their ratio; with
``--fusions attention joint``, the segmenter once per fusion (the mean of N
gated summaries, Eq. 13, against one softmax over all N references' positions). The segmenter processes a video
of max(N + 1, queries) frames (N + 1 is the fewest that give every query N
references; each frame costs one encode plus one query segmentation whatever
the video's length); the authors' procedure is timed on the first
``--queries`` frames of the same video as queries.

Part 2 (mobilenetv2): the time of a whole 480p frame (480x854, no resizing)
at N = 5 relative to N = 0, exact and with pooled reference features
(``reference_pool`` 2 and 4: an approximation, see
``benchmarks/reference_pool_accuracy.py`` for what it costs in J), and the
co-attention's share of a frame's time (the N gated summaries of Eq. 7-9,
timed alone), at output stride 8 (the preset) and 16.

Usage (from the repository root)::

    python benchmarks/segment_speed.py
    python benchmarks/segment_speed.py --presets mobilenetv2 --refs 0 5 --queries 2
    python benchmarks/segment_speed.py --skip-480p
    python benchmarks/segment_speed.py --presets saved_models/cosnet_mobilenetv2_davis.keras \
        --size 320 576 --refs 5 --fusions attention joint --queries 1 --skip-480p
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
import tensorflow as tf  # noqa: E402

from cosnet_tf import COSNet  # noqa: E402
from cosnet_tf.inference import FUSIONS, VideoSegmenter, reference_plan  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=["mobilenetv2", "resnet101_official"],
                        help="preset names or saved .keras models")
    parser.add_argument("--fusions", nargs="+", default=["attention"], choices=FUSIONS,
                        help="part 1: the segmenter's fusions timed (default attention)")
    parser.add_argument("--refs", nargs="+", type=int, default=[0, 1, 2, 5], help="values of N")
    parser.add_argument("--size", nargs=2, type=int, default=(473, 473), metavar=("H", "W"))
    parser.add_argument("--queries", type=int, default=3,
                        help="query frames timed with the authors' procedure (default 3)")
    parser.add_argument("--resnet-queries", type=int, default=1,
                        help="the same for resnet presets (slow on CPUs; default 1)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="timings per setting, the fastest kept (resnet presets: 1)")
    parser.add_argument("--batch-size", type=int, default=4, help="segmenter frames per encode call")
    parser.add_argument("--pools", nargs="+", type=int, default=[2, 4],
                        help="part 2: reference_pool values timed besides the exact 1 (default 2 4)")
    parser.add_argument("--skip-473", action="store_true", help="skip part 1")
    parser.add_argument("--skip-480p", action="store_true", help="skip part 2")
    return parser.parse_args(argv)


def random_video(num_frames, height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (num_frames, height, width, 3), dtype=np.uint8)


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    if isinstance(result, (tf.Tensor, list, tuple, dict)):
        tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, result)
    return time.perf_counter() - started, result


class AuthorsProcedure:
    """Per query: the Siamese pair model on (query, reference) for each reference; mean of pred_a."""

    def __init__(self, model):
        self.model = model
        self.pair = tf.function(lambda a, b: model({"frame_a": a, "frame_b": b})["pred_a"])
        # N = 0 has no pair: the frame-by-frame baseline is one encode and one head.
        self.single = tf.function(
            lambda a: model.segment(model.encode(a), None, output_size=tf.shape(a)[1:3])
        )

    def warm_up(self, frame):
        self.pair(frame, frame).numpy()
        self.single(frame).numpy()

    def segment_query(self, video, query, num_references):
        frame = tf.constant(video[query : query + 1], tf.float32)
        references = reference_plan(len(video), num_references, "uniform")[query]
        if not references:
            return self.single(frame)[0, :, :, 0].numpy()
        predictions = [self.pair(frame, tf.constant(video[r : r + 1], tf.float32)) for r in references]
        return tf.reduce_mean(tf.stack(predictions), axis=0)[0, :, :, 0].numpy()


def part1(args):
    height, width = args.size
    rows = []
    for preset in args.presets:
        model = COSNet.from_preset(preset)
        authors = AuthorsProcedure(model)
        authors.warm_up(tf.zeros((1, height, width, 3)))
        resnet = preset.startswith("resnet")
        queries = args.resnet_queries if resnet else args.queries
        # The first runs after tracing are slower (oneDNN sets up its kernels):
        # the fastest of a few timings is the steady state.
        repeats = 1 if resnet else args.repeats
        for n in args.refs:
            video = random_video(max(n + 1, queries), height, width, seed=n)
            # N = 0 has no references to fuse: one row.
            fusions = args.fusions if n > 0 else args.fusions[:1]
            segmenters = {}
            for fusion in fusions:
                segmenters[fusion] = VideoSegmenter(model, num_references=n, fusion=fusion, input_size=None,
                                                    batch_size=args.batch_size)
                segmenters[fusion].warm_up((height, width))
            best = {fusion: np.inf for fusion in fusions}
            for _ in range(repeats):  # interleaved, so that a busy moment hits every fusion
                for fusion, segmenter in segmenters.items():
                    best[fusion] = min(best[fusion], timed(segmenter.segment, video)[0])

            def authors_run():
                for query in range(queries):
                    authors.segment_query(video, query, n)

            theirs = queries / min(timed(authors_run)[0] for _ in range(repeats))
            for fusion in fusions:
                ours = len(video) / best[fusion]
                rows.append((preset, n, fusion, ours, theirs))
                label = f" {fusion:9s}" if len(args.fusions) > 1 else ""
                print(f"{preset:20s} N={n}{label}  segmenter {ours:7.3f} frames/s ({len(video)} frames, "
                      f"{best[fusion] / len(video):.3f} s/frame)   "
                      f"authors' procedure {theirs:7.3f} frames/s ({queries} queries)   "
                      f"ratio {ours / theirs:5.2f}x", flush=True)
    return rows


def part2(args):
    height, width = 480, 854
    results = []
    repeats = max(args.repeats, 3)
    for stride in (8, 16):
        model = COSNet.from_preset("mobilenetv2", backbone_config={"output_stride": stride})
        # End to end: the segmenter on the same 6 frames at N = 0 and N = 5,
        # exact (reference_pool 1) and with pooled reference features.
        pools = [1] + [k for k in args.pools if k > 1]
        settings = [(0, 1)] + [(5, k) for k in pools]
        per_frame = {}
        segmenters = {}
        video = random_video(6, height, width, seed=stride)
        for n, pool in settings:
            segmenters[n, pool] = VideoSegmenter(model, num_references=n, input_size=None,
                                                 batch_size=args.batch_size, reference_pool=pool)
            segmenters[n, pool].warm_up((height, width))
        for _ in range(args.repeats):  # interleaved, so that a busy moment hits all
            for key in settings:
                seconds = timed(segmenters[key].segment, video)[0] / len(video)
                per_frame[key] = min(per_frame.get(key, np.inf), seconds)
        # The parts of one frame, each timed alone (fastest of a few runs):
        # encoder, query segmentation at N = 0 and 5, and the co-attention
        # alone (the 5 gated summaries of Eq. 7-9).
        frame = tf.zeros((1, height, width, 3))
        features = model.encode(frame)
        references = tf.stack([features[0]] * 5)[None]
        size = tf.constant((height, width))
        parts = {
            "encoder": (tf.function(lambda x: model.encode(x)), (frame,)),
            "segment N=0": (tf.function(lambda q: model.segment(q, None, output_size=size)), (features,)),
            "segment N=5": (tf.function(lambda q, r: model.segment(q, r, output_size=size)),
                            (features, references)),
            "co-attention N=5": (tf.function(lambda q, r: model.gated_summaries(q, r)),
                                 (features, references)),
        }
        for function, inputs in parts.values():
            timed(function, *inputs)  # trace
        best = {name: np.inf for name in parts}
        for _ in range(repeats):
            for name, (function, inputs) in parts.items():
                best[name] = min(best[name], timed(function, *inputs)[0])
        h, w = features.shape[1:3]
        frame0 = best["encoder"] + best["segment N=0"]
        frame5 = best["encoder"] + best["segment N=5"]
        results.append((stride, per_frame, best))
        exact = per_frame[5, 1] / per_frame[0, 1]
        print(f"mobilenetv2 OS{stride} 480x854, features {h}x{w}:\n"
              f"  end to end (segmenter, 6 frames): N=0 {per_frame[0, 1]:.3f} s/frame, "
              f"N=5 {per_frame[5, 1]:.3f} s/frame, N=5 / N=0 = {exact:.2f}x exact (target < 1.5x)")
        for pool in pools[1:]:
            print(f"  N=5 with --reference-pool {pool} (references {-(-h // pool)}x{-(-w // pool)}): "
                  f"{per_frame[5, pool]:.3f} s/frame, N=5 / N=0 = {per_frame[5, pool] / per_frame[0, 1]:.2f}x")
        print(f"  parts: encoder {best['encoder']:.3f} s, segment N=0 {best['segment N=0']:.3f} s, "
              f"segment N=5 {best['segment N=5']:.3f} s, of which co-attention "
              f"{best['co-attention N=5']:.3f} s\n"
              f"  from the parts: N=5 / N=0 = {frame5 / frame0:.2f}x; co-attention = "
              f"{100 * best['co-attention N=5'] / frame5:.0f}% of an N=5 frame", flush=True)
    return results


def main(argv=None):
    args = parse_args(argv)
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'} intra-op threads")
    started = time.perf_counter()
    if not args.skip_473:
        part1(args)
    if not args.skip_480p:
        part2(args)
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
