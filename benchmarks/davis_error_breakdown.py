"""Where a model loses J on DAVIS: segmenting something that is not the object, or drawing the object?

The references of Eq. 13 can only help a frame whose mask covers the wrong thing: a salient
region that is not the primary object, which a comparison with other frames can reject. They
have no say in how well the outline of the right object is drawn. This splits each scored
frame's error (DAVIS-2016 protocol: every annotated frame but the first and the last) into

- strays: predicted regions that touch no pixel of the object;
- misses: parts of the object that no predicted pixel touches;
- outline: the rest, the false positives and negatives of the regions that do meet the object
  (`cosnet_tf.evaluation.error_regions`);

and prints, per prediction folder, the mean J (per sequence, then over sequences, as
`cosnet evaluate`) as it is, with every stray removed (the most that picking the object better
could add), and with every miss added too, beside the share of error pixels of each kind.

    python benchmarks/davis_error_breakdown.py PRED_DIR [PRED_DIR ...]
        [--davis-root ../shared/data/davis2016-dev] [--per-sequence]

Each PRED_DIR holds one folder of PNG masks per sequence (`cosnet segment`'s output, or a
setting folder of `benchmarks/davis_dev_scores.py --out`). Reads masks only: about ten seconds
per folder. The split is `cosnet_tf.evaluation.error_regions` (SciPy, the `[analysis]` extra).
"""
import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
KINDS = ("strays", "misses", "outline")  # the fields of ErrorRegions


def frame_breakdown(prediction, ground_truth):
    """{"J", "J_no_strays", "J_no_strays_misses", pixels of each kind, "has_stray"} of one frame."""
    from cosnet_tf.evaluation import error_regions, region_similarity

    regions = error_regions(prediction, ground_truth)
    kept = prediction & ~regions.strays
    return {
        "J": region_similarity(prediction, ground_truth),
        "J_no_strays": region_similarity(kept, ground_truth),
        "J_no_strays_misses": region_similarity(kept | regions.misses, ground_truth),
        **{kind: int(getattr(regions, kind).sum()) for kind in KINDS},
        "has_stray": bool(regions.strays.any()),
    }


def sequence_breakdown(gt_dir, pred_dir):
    """The scored frames' breakdowns of one sequence (first and last frames left out)."""
    from cosnet_tf.evaluation._protocol_utils import read_prediction
    from cosnet_tf.evaluation.davis2016 import scored_frames
    from cosnet_tf.evaluation.mask_io import read_mask

    rows = []
    for stem, gt_path in scored_frames(Path(gt_dir).name, gt_dir):
        ground_truth = read_mask(gt_path, threshold=0)
        prediction = read_prediction(Path(pred_dir) / f"{stem}.png", ground_truth, gt_path)
        rows.append(frame_breakdown(prediction, ground_truth))
    return rows


def summarise(per_sequence):
    """Means over sequences of the per-sequence means, and the error shares over all pixels."""
    summary = {}
    for key in ("J", "J_no_strays", "J_no_strays_misses", "has_stray"):
        summary[key] = float(np.mean([np.mean([r[key] for r in rows]) for rows in per_sequence.values()]))
    totals = {kind: sum(r[kind] for rows in per_sequence.values() for r in rows) for kind in KINDS}
    error = max(sum(totals.values()), 1)
    summary.update({f"{kind}_share": totals[kind] / error for kind in KINDS})
    return summary


def main(argv=None):
    from cosnet_tf.evaluation.davis2016 import davis_annotation_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pred_dirs", nargs="+")
    parser.add_argument("--davis-root", default=str(SHARED / "data" / "davis2016-dev"))
    parser.add_argument("--per-sequence", action="store_true", help="one line per sequence too")
    args = parser.parse_args(argv)
    gt_root = davis_annotation_dir(args.davis_root)
    header = f"{'J':>6} {'no strays':>9} {'+ misses':>8} {'frames w/ stray':>15} {'strays':>6} {'misses':>6} {'outline':>7}"
    for pred_dir in args.pred_dirs:
        pred_dir = Path(pred_dir)
        names = sorted(p.name for p in pred_dir.iterdir() if p.is_dir())
        if not names:
            raise FileNotFoundError(f"{pred_dir} holds no sequence folders of masks")
        per_sequence = {name: sequence_breakdown(gt_root / name, pred_dir / name) for name in names}
        print(f"{pred_dir} ({len(names)} sequences)")
        print(f"  {'':<16} {header}")
        rows = [(name, {name: rows}) for name, rows in per_sequence.items()] if args.per_sequence else []
        for label, part in rows + [("mean", per_sequence)]:
            s = summarise(part)
            print(
                f"  {label:<16} {s['J']:6.3f} {s['J_no_strays']:9.3f} {s['J_no_strays_misses']:8.3f}"
                f" {s['has_stray']:15.2f} {s['strays_share']:6.2f} {s['misses_share']:6.2f} {s['outline_share']:7.2f}"
            )


if __name__ == "__main__":
    main()
