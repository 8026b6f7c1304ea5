"""`cosnet export`: write a COSNet as a TF Serving SavedModel (saved_models/NAME/VERSION)."""
from cosnet_tf.cli.flags import (
    HelpFormatter,
    add_alias,
    add_fusion_argument,
    add_model_argument,
    add_size_arguments,
    add_switch,
)


def add_export_parser(sub):
    p = sub.add_parser(
        "export",
        formatter_class=HelpFormatter,
        help="export a model as a TensorFlow Serving SavedModel",
        description="Write a SavedModel with the signatures serving_default (query + references -> "
        "probabilities), encode (frames -> features) and segment_from_features, in TF Serving's "
        "layout saved_models/NAME/VERSION. Frames of any size are resized inside the graph to the "
        "size `cosnet segment` uses for the model (--input-size or --short-side set it). "
        "See docs/serving.md.",
    )
    add_model_argument(p, help="the model to export: a saved .keras file (path) or a preset name "
                       "(e.g. mobilenetv2, random weights)")
    p.add_argument(
        "--out",
        required=True,
        help="saved_models/NAME/VERSION (VERSION a positive integer), "
        "or saved_models/NAME for the next version",
    )
    add_fusion_argument(p)
    add_size_arguments(p, default_text="the model's own")
    add_alias(p, "--inference-size", "--input-size")
    add_switch(p, "--overwrite", help="replace an existing version folder")
    p.set_defaults(func=run_export)


def run_export(args):
    from cosnet_tf.cli.segment_command import load_model
    from cosnet_tf.export import export_saved_model

    model = load_model(args.model, command="export")
    if args.input_size is not None:  # a fixed size: the model's aspect-kept default no longer applies
        model.inference_size = tuple(args.input_size)
        model.inference_short_side = None
    elif args.short_side is not None:
        model.inference_short_side = args.short_side
    path = export_saved_model(model, args.out, fusion=args.fusion, overwrite=args.overwrite)
    if model.inference_short_side is not None:
        size = f"short side {model.inference_short_side}, aspect kept"
    elif model.inference_size is not None:
        size = "x".join(map(str, model.inference_size))
    else:
        size = "their own size"
    print(
        f"wrote {path} (signatures serving_default, encode, segment_from_features; "
        f"fusion={args.fusion}; frames resized to {size})"
    )
