"""`cosnet`: the command-line entry point. Each sub-command lives in its own module.

Building the parser loads no TensorFlow (each command imports what it needs when it runs), so
`cosnet --help`, `cosnet --version` and usage errors answer at once.
"""
import argparse
import functools
import os
import sys

from cosnet_tf.cli.flags import HelpFormatter, add_switch, warn

# The `cosnet` launcher (cosnet_cli.py) also imports TensorFlow with stderr closed.
if os.environ.get("COSNET_VERBOSE", "") in ("", "0"):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def package_version():
    """The installed distribution's version, else the package's own (a checkout on sys.path)."""
    from importlib import metadata

    try:
        return metadata.version("cosnet-tf")
    except metadata.PackageNotFoundError:
        from cosnet_tf import __version__

        return __version__


class _Version(argparse.Action):
    """`--version`: looks the version up only when asked."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"cosnet-tf {package_version()}")
        parser.exit()


def _convert_weights(args):
    if args.output is not None:
        warn("the positional OUT of convert-weights is deprecated, use --out")
    out = args.out or args.output
    if out is None:
        raise ValueError("--out is required: OUT.keras (whole model) or OUT.weights.h5")
    if not out.endswith((".keras", ".weights.h5")):  # before the slow conversion
        raise ValueError(f"--out must end in .keras or .weights.h5, got {out}")
    from cosnet_tf import COSNet
    from cosnet_tf.conversion import load_official_weights
    from cosnet_tf.utils.atomic import atomic_output_path

    model = COSNet.from_preset("resnet101_official")
    load_official_weights(model, args.source)
    with atomic_output_path(out) as tmp:
        if out.endswith(".weights.h5"):
            model.save_weights(tmp)
        else:
            model.save(tmp)
    print(f"wrote {out} (resnet101_official, {model.count_params():,} weights)")


def preset_table(count=True):
    """A Markdown table of the presets, with parameter counts (builds each model)."""
    import numpy as np

    from cosnet_tf import COSNet
    from cosnet_tf.models.presets import PRESETS, TRAINED_PRESETS

    rows = ["| preset | backbone | co-attention | parameters (trainable) | description |", "|---|---|---|---|---|"]
    for name, preset in {**TRAINED_PRESETS, **PRESETS}.items():
        params = "-"
        if count:
            model = COSNet.from_preset(name)
            trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
            params = f"{model.count_params():,} ({trainable:,})"
        rows.append(
            f"| `{name}` | {preset['backbone']} | {preset['model']['coattention']} | {params} | {preset['description']} |"
        )
    return "\n".join(rows)


def _presets(args):
    print(preset_table(count=args.count))


def add_convert_weights_parser(sub):
    p = sub.add_parser(
        "convert-weights",
        formatter_class=HelpFormatter,
        help="port the authors' PyTorch checkpoint to a resnet101_official Keras model",
        description="Map the authors' state dict (.pth needs torch, or .npz) onto resnet101_official "
        "and save it as .keras (whole model) or .weights.h5.",
    )
    p.add_argument("source", help="the authors' checkpoint: .pth/.pt (needs torch) or .npz")
    p.add_argument("output", nargs="?", help=argparse.SUPPRESS)  # the old spelling of --out
    p.add_argument("--out", help="where to write: OUT.keras (whole model) or OUT.weights.h5 (required)")
    p.set_defaults(func=_convert_weights)


def add_presets_parser(sub):
    p = sub.add_parser("presets", formatter_class=HelpFormatter,
                       help="list the model presets with their parameter counts")
    add_switch(p, "--count", default=True, help="build each model to count its weights")
    p.set_defaults(func=_presets)


def build_parser():
    """The `cosnet` parser with every sub-command (imports no TensorFlow)."""
    from cosnet_tf.cli.demo_command import add_demo_parser
    from cosnet_tf.cli.evaluate_command import add_evaluate_parser
    from cosnet_tf.cli.explain_command import add_explain_parser
    from cosnet_tf.cli.export_command import add_export_parser
    from cosnet_tf.cli.predict_command import add_predict_parser
    from cosnet_tf.cli.segment_command import add_segment_parser
    from cosnet_tf.cli.serve_command import add_serve_parser
    from cosnet_tf.cli.train_command import add_train_parser
    from cosnet_tf.cli.tune_command import add_tune_parser

    parser = argparse.ArgumentParser(
        prog="cosnet",
        formatter_class=HelpFormatter,
        description="COSNet: co-attention Siamese networks for unsupervised video object segmentation.",
    )
    parser.add_argument("--version", action=_Version, help="print the version (cosnet-tf X.Y.Z) and exit")
    add_switch(parser, "--verbose", help="show TensorFlow's start-up logging (also: COSNET_VERBOSE=1)")
    # Every sub-command shows its defaults, also one whose module does not ask for it.
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=functools.partial(argparse.ArgumentParser,
                                                               formatter_class=HelpFormatter))
    for add_parser in (add_convert_weights_parser, add_demo_parser, add_train_parser, add_tune_parser,
                       add_segment_parser, add_evaluate_parser, add_explain_parser, add_export_parser,
                       add_serve_parser, add_predict_parser, add_presets_parser):
        add_parser(sub)
    return parser


def run(args):
    """Runs the parsed command; 0 on success, 2 (with the error on stderr) on bad input."""
    try:
        args.func(args)
    except (ValueError, FileNotFoundError, ImportError, RuntimeError) as error:
        print(f"cosnet {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


def main(argv=None):
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
