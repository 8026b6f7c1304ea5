"""Would motion against the background reject the strays? An offline check with a model's attention.

Most of the J that a better choice of object could add on DAVIS is lost to strays: objects that
recur in every frame as the primary object does (parked vehicles, a crowd), so that recurrence
cannot reject them (docs/research-log.md#2026-11-27--where-davis-loses-j-strays-that-recur-as-the-object-does). In frames 2 to 5 apart, the arg max of the
co-attention moves the object against the background and leaves the strays where the camera
puts them (`coattention_diagnostics.py`, "motion"). This measures what that cue would be worth
in J before any model uses it:

for each scored frame (DAVIS-2016 protocol) and its saved mask, the model's attention from the
frame to the frame GAP later (earlier at the end of the video) gives each feature cell a
relative motion (`coattention_diagnostics.relative_motion`, arg max reading, in cells),
against the camera's motion: the median displacement of the cells the mask leaves out
(`--camera background`) or of all cells (`--camera all`). Each connected region of the mask
gets its cells' mean. Regions below a threshold are dropped, but the region that moves most is
always kept, so no mask is emptied. The script prints mean J (per sequence, then over
sequences) for each threshold (0 keeps every mask as it is), and the mean J when each sequence
gets the threshold that is best on the others (leave one sequence out).

    python benchmarks/stray_motion_filter.py MODEL PRED_DIR --davis-root ../shared/data/davis2016-dev \
        [--gap 2] [--size 320 576] [--camera background] [--thresholds 0 0.5 1 1.5 2 3]

PRED_DIR holds one folder of PNG masks per sequence (`cosnet segment`'s output, or a setting
folder of `davis_dev_scores.py --out`). The thresholds are all scored on the same sequences, so
the best of them is an optimistic figure: a threshold for use must be chosen on other videos.
About 5 CPU minutes for the 10 dev sequences (one encoding per frame). Needs SciPy (the
`[analysis]` extra).
"""
import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from coattention_diagnostics import relative_motion  # noqa: E402  (benchmarks/, beside this file)


def filter_regions(prediction, motion, thresholds):
    """`prediction` with its regions moving less than each threshold removed: {threshold: mask}.

    `motion` is the relative motion at the prediction's resolution. The region with the largest
    mean motion is always kept.
    """
    from scipy import ndimage

    labels, count = ndimage.label(prediction)
    if count == 0:
        return {t: prediction for t in thresholds}
    means = np.asarray(ndimage.mean(motion, labels, index=np.arange(1, count + 1)))
    out = {}
    for threshold in thresholds:
        keep = means >= threshold
        keep[int(np.argmax(means))] = True
        out[threshold] = np.isin(labels, np.flatnonzero(keep) + 1)
    return out


def sequence_scores(model, sequence, gt_dir, pred_dir, gap, size, thresholds, camera="background"):
    """{threshold: [J of each scored frame]} of one sequence."""
    from PIL import Image

    from cosnet_tf.evaluation import region_similarity
    from cosnet_tf.evaluation._protocol_utils import read_prediction
    from cosnet_tf.evaluation.davis2016 import scored_frames
    from cosnet_tf.evaluation.mask_io import read_mask

    stems = [Path(p).stem for p in sequence.frame_paths]
    features = {}

    def attended(index):
        if index not in features:
            frame = Image.open(sequence.frame_paths[index]).convert("RGB").resize(size[::-1], Image.BILINEAR)
            encoded = model.encode(np.asarray(frame, dtype="float32")[None])
            features[index] = model.attention_features(encoded)
        return features[index]

    scores = {t: [] for t in thresholds}
    for stem, gt_path in scored_frames(Path(gt_dir).name, gt_dir):
        index = stems.index(stem)
        other = index + gap if index + gap < len(stems) else index - gap
        query, reference = attended(index), attended(max(other, 0))
        attention = np.asarray(model.coattention.attention(query, reference))[0]
        cells = tuple(query.shape[1:3])
        truth = read_mask(gt_path, threshold=0)
        prediction = read_prediction(Path(pred_dir) / f"{stem}.png", truth, gt_path)
        background = None
        if camera == "background":  # the camera's motion from the cells the mask leaves out
            small = Image.fromarray(prediction.astype("float32")).resize(cells[::-1], Image.BILINEAR)
            background = np.asarray(small).reshape(-1) < 0.5
        motion = relative_motion(attention, cells, tuple(reference.shape[1:3]), background)[1].reshape(cells)
        full = np.asarray(Image.fromarray(motion.astype("float32")).resize(truth.shape[::-1], Image.NEAREST))
        for threshold, mask in filter_regions(prediction, full, thresholds).items():
            scores[threshold].append(region_similarity(mask, truth))
    return scores


def main(argv=None):
    from cosnet_tf.data import DavisDataset
    from cosnet_tf.evaluation.davis2016 import davis_annotation_dir
    from cosnet_tf.models import COSNet

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a saved .keras model with co-attention")
    parser.add_argument("pred_dir", help="one folder of PNG masks per sequence")
    parser.add_argument("--davis-root", required=True)
    parser.add_argument("--sequences", nargs="+", help="default: every sequence of the root")
    parser.add_argument("--gap", type=int, default=2, help="frames between the frame and its reference")
    parser.add_argument("--size", nargs=2, type=int, default=(320, 576), metavar=("H", "W"))
    parser.add_argument("--camera", choices=("background", "all"), default="background",
                        help="the camera's motion: the median over the cells the mask leaves out, or over all")
    parser.add_argument("--thresholds", nargs="+", type=float, default=[0, 0.5, 1, 1.5, 2, 3],
                        help="relative motion, in feature cells, below which a region is dropped")
    args = parser.parse_args(argv)
    if args.gap < 1:
        parser.error("--gap must be >= 1")

    model = COSNet.from_preset(args.model)
    if model.coattention is None:
        raise SystemExit(f"{args.model} has no co-attention to read motion from")
    gt_root = davis_annotation_dir(args.davis_root)
    per_sequence = {}
    for sequence in DavisDataset(args.davis_root, sequences=args.sequences):  # None: every sequence
        pred_dir = Path(args.pred_dir) / sequence.name
        if not pred_dir.is_dir():
            raise SystemExit(f"no masks for sequence {sequence.name}: {pred_dir} is missing")
        scores = sequence_scores(model, sequence, gt_root / sequence.name, pred_dir, args.gap,
                                 tuple(args.size), args.thresholds, args.camera)
        per_sequence[sequence.name] = {t: float(np.mean(v)) for t, v in scores.items()}
        print(sequence.name, " ".join(f"{t:g}:{j:.3f}" for t, j in per_sequence[sequence.name].items()),
              flush=True)
    print(f"mean J over {len(per_sequence)} sequences, gap {args.gap}, by threshold (cells):")
    for threshold in args.thresholds:
        print(f"  {threshold:4g}  {np.mean([s[threshold] for s in per_sequence.values()]):.4f}")
    if len(per_sequence) > 1:
        print(f"threshold chosen on the other sequences, each in turn: {leave_one_out(per_sequence):.4f}")


def leave_one_out(per_sequence):
    """Mean J when each sequence gets the threshold that scores best on all the others.

    The honest estimate of the filter's worth: no sequence's own figures choose its threshold.
    """
    scores = []
    for name, own in per_sequence.items():
        others = [s for other, s in per_sequence.items() if other != name]
        best = max(own, key=lambda t: np.mean([s[t] for s in others]))
        scores.append(own[best])
    return float(np.mean(scores))


if __name__ == "__main__":
    main()
