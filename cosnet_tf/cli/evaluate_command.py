"""`cosnet evaluate`: score predicted masks with a benchmark protocol."""
import os

from cosnet_tf.cli.flags import HelpFormatter, add_alias, at_least
from cosnet_tf.utils.choices import PROTOCOLS


def add_evaluate_parser(sub):
    p = sub.add_parser(
        "evaluate",
        formatter_class=HelpFormatter,
        help="score predicted masks (DAVIS-2016, FBMS, YouTube-Objects) and write JSON/CSV/plot",
        description="Score PRED/<sequence>/<frame>.png masks (what `cosnet segment` writes) against "
        "the ground truth with a benchmark protocol; print the table and write "
        "OUT/<protocol>.json, OUT/<protocol>.csv and OUT/<protocol>_per_sequence.png.",
    )
    p.add_argument("--pred", required=True, help="folder of predictions, PRED/<sequence>/%%05d.png")
    p.add_argument("--gt", required=True,
                   help="ground truth: DAVIS root (Annotations/480p/<sequence>), or GT/<sequence> for "
                   "fbms, GT/<category>/<sequence> for youtube-objects")
    p.add_argument("--protocol", required=True, choices=PROTOCOLS, help="benchmark protocol")
    p.add_argument("--sequences", nargs="+", metavar="NAME",
                   help="sequence names, or one text file listing them (default: all of the ground truth)")
    p.add_argument("--out", help="folder the JSON, CSV and plot go to (default: PRED)")
    add_alias(p, "--out-dir", "--out")
    p.add_argument("--db-info", help="davis2016: the benchmark's db_info.yml, whose eval_t: False sequences "
                   "get no T (default: GT/db_info.yml when it exists, else no exclusion)")
    p.add_argument("--workers", type=at_least(1), help="processes scoring sequences (default: the protocol's)")
    p.set_defaults(func=run_evaluate)


def run_evaluate(args):
    from cosnet_tf.evaluation import evaluate

    if not os.path.isdir(args.pred):
        raise FileNotFoundError(f"prediction folder not found: '{args.pred}'")
    sequences = args.sequences
    if sequences and len(sequences) == 1 and os.path.isfile(sequences[0]):
        sequences = sequences[0]  # a file of names; `evaluate` reads it
    options = {} if args.workers is None else {"workers": args.workers}
    if args.db_info:
        if args.protocol != "davis2016":
            raise ValueError("--db-info applies to the davis2016 protocol only")
        options["t_exclude"] = args.db_info
    result = evaluate(args.pred, args.gt, args.protocol, sequences=sequences, **options)
    print(result.format_table())
    out_dir = args.out or args.pred
    os.makedirs(out_dir, exist_ok=True)
    written = [
        result.to_json(os.path.join(out_dir, f"{args.protocol}.json")),
        result.to_csv(os.path.join(out_dir, f"{args.protocol}.csv")),
    ]
    try:
        written.append(result.plot_per_sequence(os.path.join(out_dir, f"{args.protocol}_per_sequence.png")))
    except ImportError as error:  # the scores are written; the plot is optional
        print(f"no plot: {error}")
    print("wrote " + ", ".join(str(path) for path in written))
