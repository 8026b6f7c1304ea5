"""Where does a model lose J on the recurrence benchmark: picking the object, or drawing it?

Held-out J mixes two failures: segmenting a distractor (or nothing) instead of the primary
object, and segmenting the right object with a poor outline. This splits them. Each held-out
frame of the benchmark of `training/configs/recurrence.toml` is segmented as `cosnet segment`
does (`cosnet_tf.segment_video`) at each N given, and sorted by what the predicted mask covers
(at least half of an object's visible pixels counts as covering it):

- primary only: the primary object and no distractor (the mean J of these frames is the
  outline quality when the object is picked right);
- primary + distractor: the primary object and at least one distractor;
- distractor only: a distractor and not the primary object;
- neither: no object (an empty or scattered mask).

    python benchmarks/recurrence_error_breakdown.py MODEL.keras [--refs 0 5] [--thresholds 0.5]
        [--size 128 128]

Frames go through the same JPEG round trip as the written benchmark (quality 90). About a
minute per N on one CPU core at 128x128.
"""
import argparse
import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

CATEGORIES = ("primary only", "primary + distractor", "distractor only", "neither")


def jpeg_round_trip(frames, quality):
    """The frames as the written benchmark holds them (JPEG at `quality`)."""
    out = []
    for frame in frames:
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
        out.append(np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")))
    return np.stack(out)


def categorise(prediction, primary, distractors, cover=0.5):
    """What `prediction` covers: one of CATEGORIES."""
    def covers(mask):
        return mask.any() and np.logical_and(prediction, mask).sum() >= cover * mask.sum()

    found = covers(primary)
    other = any(covers(mask) for mask in distractors if mask.any())
    return CATEGORIES[0 if found and not other else 1 if found else 2 if other else 3]


def breakdown(model, generator, videos, refs, thresholds=(0.5,)):
    """{(N, threshold): {"J": per-frame J list, category: [J of its frames]}}."""
    from cosnet_tf.evaluation.region_similarity import region_similarity
    from cosnet_tf.inference.video_segmenter import VideoSegmenter

    results = {(n, p): {"J": [], **{c: [] for c in CATEGORIES}} for n in refs for p in thresholds}
    for index in videos:
        sequence = generator.render_sequence(index)
        frames = jpeg_round_trip(sequence.frames, generator.jpeg_quality)
        for n in refs:
            # `cosnet segment`'s loop; the probabilities once, cut at each threshold.
            probabilities = [p for _, p in VideoSegmenter(model, n).iter_segment(frames)]
            for threshold in thresholds:
                for t, probability in enumerate(probabilities):
                    prediction = probability > threshold
                    entry = results[(n, threshold)]
                    j = region_similarity(prediction, sequence.masks[t])
                    entry["J"].append(j)
                    entry[categorise(prediction, sequence.masks[t], sequence.distractor_masks[t])].append(j)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a saved COSNet .keras")
    parser.add_argument("--refs", type=int, nargs="+", default=[0, 5], metavar="N")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.5], metavar="P",
                        help="foreground where the probability exceeds P (default 0.5, `cosnet segment`'s)")
    parser.add_argument("--size", type=int, nargs=2, default=None, metavar=("H", "W"), help="default: recurrence.toml's")
    args = parser.parse_args()
    if not os.path.exists(args.model):
        sys.exit(f"model not found: {args.model}")
    import cosnet_tf
    from benchmarks.recurrence_feature_probe import recurrence_benchmark

    model = cosnet_tf.load_model(args.model)
    generator, held_out = recurrence_benchmark(args.size)
    refs = args.refs if model.coattention is not None else [0]
    results = breakdown(model, generator, held_out, refs, args.thresholds)
    frames = len(next(iter(results.values()))["J"])
    height, width = generator.image_size
    print(f"{args.model}: {len(held_out)} held-out videos, {frames} frames, {height}x{width}")
    print(f"{'N':>3s} {'cut':>5s} {'J':>6s}  " + "  ".join(f"{c:>22s}" for c in CATEGORIES))
    for (n, threshold), entry in results.items():
        cells = [f"{len(entry[c]) / frames:6.1%} (J {np.mean(entry[c]) if entry[c] else float('nan'):.3f})"
                 for c in CATEGORIES]
        print(f"{n:3d} {threshold:5.2f} {np.mean(entry['J']):6.3f}  " + "  ".join(f"{cell:>22s}" for cell in cells))


if __name__ == "__main__":
    main()
