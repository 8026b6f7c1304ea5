"""A model's DAVIS-2016 scores and speed at several input sizes, reference counts and with CRF.

Every setting runs `cosnet segment` on the dev sequences (the frames at full resolution in,
masks at full resolution out) and scores the masks with `cosnet evaluate` (DAVIS-2016
protocol: J and F mean / recall / decay, and T). One row per setting: the model-card tables
(inference resolution, N = 0 vs N = 5, with and without CRF) come from here.

    python benchmarks/davis_dev_scores.py MODEL.keras [--davis-root ../shared/data/davis2016-dev]
        [--short-sides 240 320 384 480] [--input-sizes 256x256] [--refs 0 5] [--fusions attention prediction joint]
        [--samplings uniform random local] [--flip] [--crf] [--out DIR]
        [--db-info ../shared/data/davis2016-train/db_info.yml]

Each size in --short-sides is aspect-preserving (`--short-side S` of `cosnet segment`); each
--input-sizes HxW is a fixed size. With neither, the model's own default is used. frames/s
is `cosnet segment`'s own count (model loading excluded, mask writing included); do not run
anything else on the machine while timing.

With more than one setting, each setting after the first is compared with the first, sequence
by sequence (J and F mean: the difference, and its 95% bootstrap interval over the sequences;
`cosnet_tf.evaluation.paired_difference`, the `[analysis]` extra). With `--refs 0 5` that is
the references' gain and how much of it ten sequences can tell from nothing.
"""
import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from cosnet_tf.utils.choices import FUSIONS, SAMPLING_STRATEGIES  # noqa: E402  (plain tuples: no TensorFlow)

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared")
COLUMNS = ("J_mean", "J_recall", "J_decay", "F_mean", "F_recall", "F_decay", "T_mean")


def settings_from_args(args):
    """[(label, extra `cosnet segment` flags)] for every size x N x CRF combination asked for."""
    sizes = [(f"short {s}", ["--short-side", str(s)]) for s in args.short_sides or []]
    for text in args.input_sizes or []:
        height, width = (int(v) for v in text.lower().split("x"))
        sizes.append((f"fixed {height}x{width}", ["--input-size", str(height), str(width)]))
    sizes = sizes or [("model default", [])]
    crfs = [(False, [])] + ([(True, ["--crf", "--crf-workers", str(args.crf_workers)])] if args.crf else [])
    flips = [(False, [])] + ([(True, ["--flip"])] if args.flip else [])
    settings = []
    for size, size_flags in sizes:
        for n in args.refs:
            # Fusion and sampling mean nothing without references.
            fusions = args.fusions or [None]  # None: the model's own reference_fusion
            for fusion in fusions if n > 0 else fusions[:1]:
                for sampling in args.samplings if n > 0 else args.samplings[:1]:
                    for flip, flip_flags in flips:
                        for crf, crf_flags in crfs:
                            label = f"{size}, N={n}"
                            if n > 0 and (len(fusions) > 1 or len(args.samplings) > 1):
                                label += f", {fusion or 'own fusion'}, {sampling}"
                            flags = size_flags + ["--refs", str(n), "--sampling", sampling]
                            flags += ["--fusion", fusion] if fusion else []
                            label += (", flip" if flip else "") + (", CRF" if crf else "")
                            settings.append((label, flags + flip_flags + crf_flags))
    return settings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a saved .keras model")
    parser.add_argument("--davis-root", default=os.path.join(SHARED, "data", "davis2016-dev"))
    parser.add_argument("--sequences", nargs="+", help="default: every sequence of the root")
    parser.add_argument("--short-sides", type=int, nargs="+", metavar="S")
    parser.add_argument("--input-sizes", nargs="+", metavar="HxW")
    parser.add_argument("--refs", type=int, nargs="+", default=[5], metavar="N")
    parser.add_argument("--fusions", nargs="+", choices=FUSIONS, help="default: the model's own reference_fusion")
    parser.add_argument("--samplings", nargs="+", default=["uniform"], choices=SAMPLING_STRATEGIES)
    parser.add_argument("--flip", action="store_true", help="also score every setting with --flip")
    parser.add_argument("--crf", action="store_true", help="also score every setting with --crf")
    parser.add_argument("--crf-workers", type=int, default=2)
    parser.add_argument("--out", help="keep masks and scores here (default: a temporary folder)")
    parser.add_argument("--db-info", default=os.path.join(SHARED, "data", "davis2016-train", "db_info.yml"),
                        help="the benchmark's db_info.yml (it lists all 50 DAVIS-2016 sequences): T skips "
                        "those with eval_t: False; default the training root's copy, if present")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.davis_root):
        raise SystemExit(f"not found: {args.davis_root} (the project's ../shared folder)")

    from cosnet_tf.cli.main import build_parser
    from cosnet_tf.cli.segment_command import run_segment
    from cosnet_tf.evaluation import evaluate, paired_difference

    out = args.out or tempfile.mkdtemp(prefix="davis-dev-scores-")
    rows, results = [], []
    for index, (label, flags) in enumerate(settings_from_args(args)):
        masks = os.path.join(out, f"setting{index}")
        command = ["segment", args.davis_root, "--out", masks, "--model", args.model, "--quiet"] + flags
        if args.sequences:
            command += ["--sequences"] + args.sequences
        stats = run_segment(build_parser().parse_args(command))
        options = {"t_exclude": args.db_info} if args.db_info and os.path.isfile(args.db_info) else {}
        result = evaluate(masks, args.davis_root, "davis2016", sequences=args.sequences, **options)
        result.to_json(os.path.join(out, f"setting{index}.json"), include_frames=False)
        results.append(result)
        scores = {name: result.overall.values[name] for name in COLUMNS if name in result.overall.values}
        rows.append(dict(setting=label, flags=flags, frames=stats["frames"],
                         frames_per_second=stats["frames"] / stats["seconds"],
                         last_input_size=list(stats["last_input_size"]), **scores))
        print(json.dumps(rows[-1]), flush=True)
    with open(os.path.join(out, "scores.json"), "w") as f:
        json.dump(rows, f, indent=2)

    print(f"\n{args.model} on {args.davis_root} ({rows[0]['frames']} frames), DAVIS-2016 protocol:\n")
    header = "| setting | input (last video) | " + " | ".join(COLUMNS) + " | frames/s |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for row in rows:
        cells = " | ".join(f"{row[c]:.3f}" if c in row else "-" for c in COLUMNS)
        print(f"| {row['setting']} | {row['last_input_size'][0]}x{row['last_input_size'][1]} | {cells} "
              f"| {row['frames_per_second']:.2f} |")
    for row, result in list(zip(rows, results))[1:]:
        try:
            differences = [paired_difference(results[0], result, metric) for metric in ("J_mean", "F_mean")]
        except ImportError as error:
            print(f"\nno comparison with the first setting: {error}")
            break
        for difference in differences:
            print(f"\n{difference.metric}, {row['setting']} minus {rows[0]['setting']}:\n{difference.format_table()}")
    print(f"\nmasks, scores.json and each setting's per-sequence scores (settingK.json) in {out}")


if __name__ == "__main__":
    main()
