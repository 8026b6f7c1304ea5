"""`cosnet`: the command-line entry point. Each sub-command lives in its own module."""
import argparse
import os
import sys

# The `cosnet` launcher (cosnet_cli.py) also imports TensorFlow with stderr closed.
if os.environ.get("COSNET_VERBOSE", "") in ("", "0"):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _convert_weights(args):
    from cosnet_tf import COSNet
    from cosnet_tf.conversion import load_official_weights
    from cosnet_tf.utils.atomic import atomic_output_path

    model = COSNet.from_preset("resnet101_official")
    load_official_weights(model, args.source)
    with atomic_output_path(args.output) as tmp:
        if args.output.endswith(".weights.h5"):
            model.save_weights(tmp)
        elif args.output.endswith(".keras"):
            model.save(tmp)
        else:
            raise ValueError(f"OUT must end in .keras or .weights.h5, got {args.output}")
    print(f"wrote {args.output} (resnet101_official, {model.count_params():,} weights)")


def preset_table(count=True):
    """A Markdown table of the presets, with parameter counts (builds each model)."""
    import numpy as np

    from cosnet_tf import COSNet
    from cosnet_tf.models.presets import PRESETS

    rows = ["| preset | backbone | co-attention | parameters (trainable) | description |", "|---|---|---|---|---|"]
    for name, preset in PRESETS.items():
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
    print(preset_table(count=not args.no_count))


def build_parser():
    parser = argparse.ArgumentParser(
        prog="cosnet",
        description="COSNet: co-attention Siamese networks for unsupervised video object segmentation.",
    )
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's start-up logging (also: COSNET_VERBOSE=1)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "convert-weights",
        help="port the authors' PyTorch checkpoint to a resnet101_official Keras model",
        description="Map the authors' state dict (.pth needs torch, or .npz) onto resnet101_official "
        "and save it as .keras (whole model) or .weights.h5.",
    )
    p.add_argument("source", help="the authors' checkpoint: .pth/.pt (needs torch) or .npz")
    p.add_argument("output", help="where to write: OUT.keras or OUT.weights.h5")
    p.set_defaults(func=_convert_weights)

    from cosnet_tf.cli.demo_command import add_demo_parser
    from cosnet_tf.cli.train_command import add_train_parser

    add_demo_parser(sub)
    add_train_parser(sub)

    from cosnet_tf.cli.tune_command import add_tune_parser

    add_tune_parser(sub)

    from cosnet_tf.cli.evaluate_command import add_evaluate_parser
    from cosnet_tf.cli.segment_command import add_segment_parser

    add_segment_parser(sub)
    add_evaluate_parser(sub)

    from cosnet_tf.cli.explain_command import add_explain_parser

    add_explain_parser(sub)

    from cosnet_tf.cli.export_command import add_export_parser
    from cosnet_tf.cli.predict_command import add_predict_parser
    from cosnet_tf.cli.serve_command import add_serve_parser

    add_export_parser(sub)
    add_serve_parser(sub)
    add_predict_parser(sub)

    p = sub.add_parser("presets", help="list the model presets with their parameter counts")
    p.add_argument("--no-count", action="store_true", help="skip building the models to count weights")
    p.set_defaults(func=_presets)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError, ImportError, RuntimeError) as error:
        print(f"cosnet {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
