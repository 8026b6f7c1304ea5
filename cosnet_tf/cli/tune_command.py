"""`cosnet tune`: Keras Tuner ablation searches and their paper-style tables."""
import shlex

from cosnet_tf.cli.flags import HelpFormatter, add_alias, add_switch
from cosnet_tf.tuning.tune_config import TUNERS


def add_tune_parser(sub):
    p = sub.add_parser(
        "tune",
        help="Keras Tuner search over co-attention variants and training knobs, scored by video J; "
        "writes tables like the paper's Tables 1-2 and a J-vs-N plot",
        formatter_class=HelpFormatter,
        description="Run a Keras Tuner search described by a TOML/JSON config (see "
        "training/configs/tune_*.toml): one trained model per trial, each scored by segmenting the "
        "held-out videos for real at every test-time setting (N, fusion, sampling). Running the "
        "same command again resumes the search (an interrupted trial from its last checkpoint).",
    )
    p.add_argument("--config", required=True, help="TOML or JSON file of TuneConfig settings")
    p.add_argument("--tuner", choices=TUNERS, help="override the config's tuner")
    p.add_argument("--max-trials", type=int, help="override the config's max_trials")
    p.add_argument("--directory", help="override where the search is kept")
    p.add_argument("--out", dest="report_dir", help="override where the tables and plot go (report_dir)")
    add_alias(p, "--report-dir", "--out")
    add_switch(p, "--overwrite", help="start afresh instead of resuming")
    p.set_defaults(func=run_tune)


def run_tune(args):
    from cosnet_tf.tuning import TuneConfig, run_search  # TensorFlow and Keras Tuner: only when searching

    overrides = dict(tuner=args.tuner, max_trials=args.max_trials, directory=args.directory,
                     report_dir=args.report_dir)
    config = TuneConfig.from_file(args.config, **overrides)
    # The report records the command that made it (flags included), for the docs.
    words = ["cosnet", "tune", "--config", args.config]
    flags = {"report_dir": "--out"}
    for name, value in overrides.items():
        if value is not None:
            words += [flags.get(name, "--" + name.replace("_", "-")), str(value)]
    command = " ".join(shlex.quote(word) for word in words)
    report, paths = run_search(config, overwrite=args.overwrite, command=command)
    print()
    print(report.table1())
    print()
    print(report.table2())
    print(f"\nwrote {paths['markdown']}, {paths['plot']}, {paths['trials']}")
