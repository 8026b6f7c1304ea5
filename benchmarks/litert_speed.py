"""Size, speed and parity of a model as Keras and as LiteRT (float32, float16), side by side in one run.

The model (default: the shipped one) is exported with `export_litert` (or read from
``--litert DIR``, an earlier `cosnet export --format litert --out DIR`), then the same dev
frames go through the same loop (`VideoSegmenter`; `LiteRTSegmenter` for the LiteRT models),
N references each, at the LiteRT models' fixed input size. Per sequence, the three engines run
in turn, after one untimed warm-up pass each, so that a busy machine slows all three alike.

Printed: file size (MB), frames/s (whole loop: decoding excluded, frames are read first), mean IoU
of the masks (probability > 0.5) against the Keras model's, and J (mean IoU against the DAVIS
annotations) on the frames used.

Usage (from the repository root)::

    python benchmarks/litert_speed.py
    python benchmarks/litert_speed.py --sequences bmx-trees breakdance --frames 10 --refs 5
    python benchmarks/litert_speed.py --litert exports/cosnet
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script without installing
    sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from cosnet_tf.cli.segment_command import load_model  # noqa: E402
from cosnet_tf.export.litert import ENCODE_FILE, LITERT_VARIANTS, SEGMENT_FILE, export_litert  # noqa: E402
from cosnet_tf.inference import VideoSegmenter, open_frame_source  # noqa: E402
from cosnet_tf.inference.litert_core import LiteRTModel, LiteRTSegmenter  # noqa: E402
from cosnet_tf.models.shipped import SHIPPED_MODEL, shipped_model_path  # noqa: E402

DEV = REPO_ROOT.parent / "shared" / "data" / "davis2016-dev"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="a .keras file or preset (default: the shipped model)")
    parser.add_argument("--litert", default=None, help="an existing LiteRT export folder (default: export now)")
    parser.add_argument("--davis", default=str(DEV), help="a DAVIS-2016 root (JPEGImages/480p, Annotations/480p)")
    parser.add_argument("--sequences", nargs="+", default=["bmx-trees", "car-shadow"])
    parser.add_argument("--frames", type=int, default=10, help="first frames of each sequence")
    parser.add_argument("--refs", type=int, default=5, help="N reference frames per query")
    return parser.parse_args(argv)


def iou(a, b):
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else np.logical_and(a, b).sum() / union


def main(argv=None):
    args = parse_args(argv)
    model_path = args.model or shipped_model_path(SHIPPED_MODEL)
    model = load_model(model_path, command="benchmark")
    with tempfile.TemporaryDirectory() as tmp:
        litert_dir = args.litert
        if litert_dir is None:
            started = time.perf_counter()
            litert_dir = os.path.join(tmp, "litert")
            export_litert(model, litert_dir)
            print(f"exported {LITERT_VARIANTS} in {time.perf_counter() - started:.0f} s")
        engines = {"keras": model}
        engines.update({variant: LiteRTModel(os.path.join(litert_dir, variant)) for variant in LITERT_VARIANTS})
        size = engines["float32"].input_size
        sizes = {"keras": os.path.getsize(model_path) if os.path.isfile(model_path) else float("nan")}
        for variant in LITERT_VARIANTS:
            sizes[variant] = sum(os.path.getsize(os.path.join(litert_dir, variant, name))
                                 for name in (ENCODE_FILE, SEGMENT_FILE))

        def segmenter(name):
            if name == "keras":
                return VideoSegmenter(model, num_references=args.refs, input_size=size)
            return LiteRTSegmenter(engines[name], num_references=args.refs)

        segmenters = {name: segmenter(name) for name in engines}
        seconds = dict.fromkeys(engines, 0.0)
        agreement = {name: [] for name in engines}
        j = {name: [] for name in engines}
        frames_done = 0
        for sequence in args.sequences:
            frame_dir = Path(args.davis) / "JPEGImages" / "480p" / sequence
            source = open_frame_source(str(frame_dir))
            count = min(args.frames, len(source))
            frames = np.stack([source.read_frames([i])[i] for i in range(count)])
            truths = [np.asarray(Image.open(Path(args.davis) / "Annotations" / "480p" / sequence / f"{i:05d}.png"))
                      > 0 for i in range(count)]
            masks = {}
            for name, seg in segmenters.items():
                seg.segment(frames[: args.refs + 2])  # warm-up: traces, allocations
                started = time.perf_counter()
                probabilities = seg.segment(frames)
                seconds[name] += time.perf_counter() - started
                masks[name] = probabilities > 0.5
            for name in engines:
                agreement[name] += [iou(m, k) for m, k in zip(masks[name], masks["keras"])]
                j[name] += [iou(m, t) for m, t in zip(masks[name], truths)]
            frames_done += count
        print(f"{frames_done} frames ({', '.join(args.sequences)}; first {args.frames} each), N = {args.refs}, "
              f"input {size[0]}x{size[1]}, {os.cpu_count()} CPUs")
        print(f"{'engine':10s} {'MB':>7s} {'frames/s':>9s} {'IoU vs Keras':>13s} {'J':>7s}")
        for name in engines:
            print(f"{name:10s} {sizes[name] / 1e6:7.2f} {frames_done / seconds[name]:9.2f} "
                  f"{np.mean(agreement[name]):13.5f} {np.mean(j[name]):7.4f}")


if __name__ == "__main__":
    main()
