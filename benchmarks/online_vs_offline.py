"""J of online segmentation (past references only, bounded memory) against the offline default.

Each DAVIS-2016 dev sequence is encoded once (the shipped model at its default size, as
`cosnet segment` runs it), then segmented with N references offline (global uniform sampling
over the whole video, the default of `cosnet segment`) and online with the
`OnlineReferenceStore` rule for each ``recent`` given (default 1, the default rule: spread past
frames and the latest one, and 0: spread past frames only) and each ``lag`` given (default 0:
each frame segmented as it arrives; L: once L more frames have arrived, which may then be among
its references). The online masks come from
`OnlineSegmenter.segment_encoded`, which the tests show equal to the frame-by-frame online loop.
Prints mean J (DAVIS-2016 protocol: first and last frames not scored) and per-sequence J.

Needs ../shared (the DAVIS dev sequences). Usage (from the repository root)::

    python benchmarks/online_vs_offline.py [--refs 5] [--recent 1 0] [--lag 0 5] [--sequences NAME ...]
        [--model PATH.keras]
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

from cosnet_tf.data import DavisDataset  # noqa: E402
from cosnet_tf.evaluation.video_j_evaluator import VideoJEvaluator  # noqa: E402
from cosnet_tf.inference import OnlineSegmenter, VideoSegmenter  # noqa: E402
from cosnet_tf.models.loading import load_model  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a saved .keras model (default: the shipped one)")
    parser.add_argument("--davis-root", default=str(REPO_ROOT.parent / "shared" / "data" / "davis2016-dev"))
    parser.add_argument("--sequences", nargs="+", help="default: every sequence of the root")
    parser.add_argument("--refs", type=int, default=5)
    parser.add_argument("--recent", type=int, nargs="+", default=[1, 0],
                        help="the online rules compared: how many latest frames are always references")
    parser.add_argument("--lag", type=int, nargs="+", default=[0],
                        help="frames read before a frame is segmented, each compared with every --recent")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not os.path.isdir(args.davis_root):
        print(f"needs the DAVIS dev sequences at {args.davis_root} (../shared); skipped")
        return 0
    model = load_model(args.model)
    evaluator = VideoJEvaluator(DavisDataset(args.davis_root, sequences=args.sequences))
    settings = {"offline uniform": VideoSegmenter(model, args.refs)}
    settings.update({f"online recent={recent}" + (f" lag={lag}" if lag else ""):
                     OnlineSegmenter(model, args.refs, recent=recent, lag=lag)
                     for lag in args.lag for recent in args.recent})
    scores = {label: {} for label in settings}
    started = time.perf_counter()
    for name, frames, masks in evaluator.sequences:
        encoded = settings["offline uniform"].encode_video(frames)
        for label, segmenter in settings.items():
            scores[label][name] = evaluator.sequence_j(segmenter.segment_encoded(encoded), masks)
        print(f"{name}: " + ", ".join(f"{label} {scores[label][name]:.3f}" for label in settings), flush=True)
    print(f"{args.model or 'shipped model'}, N = {args.refs}, attention fusion, default input size, "
          f"{len(evaluator.sequences)} sequences, {time.perf_counter() - started:.0f} s")
    baseline = np.mean(list(scores["offline uniform"].values()))
    for label in settings:
        mean = np.mean(list(scores[label].values()))
        print(f"  {label}: mean J {mean:.4f} ({mean - baseline:+.4f} against offline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
