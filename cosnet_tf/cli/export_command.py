"""`cosnet export`: write a COSNet as a TF Serving SavedModel (saved_models/NAME/VERSION) or as LiteRT models."""
import json
import os

from cosnet_tf.cli.flags import (
    HelpFormatter,
    add_alias,
    add_fusion_argument,
    add_model_argument,
    add_size_arguments,
    add_switch,
)

EXPORT_FORMATS = ("saved_model", "litert")
#: `cosnet_tf.export.litert.LITERT_VARIANTS`, here so that `--help` loads no TensorFlow.
LITERT_VARIANTS = ("float32", "float16")


def add_export_parser(sub):
    p = sub.add_parser(
        "export",
        formatter_class=HelpFormatter,
        help="export a model as a TensorFlow Serving SavedModel or as LiteRT models",
        description="--format saved_model: write a SavedModel with the signatures serving_default "
        "(query + references -> probabilities), encode (frames -> features) and segment_from_features, "
        "in TF Serving's layout saved_models/NAME/VERSION. Frames of any size are resized inside the "
        "graph to the size `cosnet segment` uses for the model (--input-size or --short-side set it). "
        "See docs/serving.md. --format litert: write OUT/<variant>/encode.tflite and segment.tflite "
        "(the same encode and segment_from_features steps at one fixed input size: --input-size, else the "
        "model's fixed inference size, else what `cosnet segment` gives a 854x480 frame, --short-side "
        "included; N references dynamic), which "
        "`cosnet segment --model OUT` runs with the ai-edge-litert interpreter.",
    )
    add_model_argument(p, help="the model to export: a saved .keras file (path) or a preset name "
                       "(e.g. mobilenetv2, random weights)")
    p.add_argument(
        "--out",
        required=True,
        help="saved_model: saved_models/NAME/VERSION (VERSION a positive integer), "
        "or saved_models/NAME for the next version; litert: the folder for the variant folders",
    )
    p.add_argument("--format", choices=EXPORT_FORMATS, default="saved_model", help="what to write")
    p.add_argument("--variants", nargs="+", choices=LITERT_VARIANTS, default=list(LITERT_VARIANTS),
                   help="litert: the variants to write (float16: weights stored as float16, half the size)")
    add_fusion_argument(p)
    add_size_arguments(p, default_text="the model's own")
    add_alias(p, "--inference-size", "--input-size")
    add_switch(p, "--overwrite", help="replace an existing version folder (litert: variant folders)")
    p.set_defaults(func=run_export)


def run_export(args):
    from cosnet_tf.cli.segment_command import load_model

    model = load_model(args.model, command="export")
    args.fusion = args.fusion or getattr(model, "reference_fusion", "attention")  # the model's own
    if args.format == "litert":
        from cosnet_tf.export.litert import METADATA_FILE, export_litert

        folders = export_litert(model, args.out, fusion=args.fusion, input_size=args.input_size,
                                short_side=args.short_side, variants=args.variants, overwrite=args.overwrite)
        for variant, folder in folders.items():
            with open(os.path.join(folder, METADATA_FILE)) as f:
                size = "x".join(map(str, json.load(f)["input_size"]))
            megabytes = sum(os.path.getsize(os.path.join(folder, name)) for name in os.listdir(folder)) / 1e6
            print(f"wrote {folder} ({variant}: encode.tflite, segment.tflite; {megabytes:.1f} MB; "
                  f"fusion={args.fusion}; input {size})")
        return
    from cosnet_tf.export import export_saved_model

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
