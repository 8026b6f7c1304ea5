"""`cosnet export`: write a COSNet as a TF Serving SavedModel (saved_models/NAME/VERSION)."""


def add_export_parser(sub):
    p = sub.add_parser(
        "export",
        help="export a model as a TensorFlow Serving SavedModel",
        description="Write a SavedModel with the signatures serving_default (query + references -> "
        "probabilities), encode (frames -> features) and segment_from_features, in TF Serving's "
        "layout saved_models/NAME/VERSION. See docs/serving.md.",
    )
    p.add_argument("--model", required=True, help="a saved .keras model or a preset name (e.g. mobilenetv2)")
    p.add_argument(
        "--out",
        required=True,
        help="saved_models/NAME/VERSION (VERSION a positive integer), "
        "or saved_models/NAME for the next version",
    )
    p.add_argument(
        "--fusion",
        choices=("attention", "prediction"),
        default="attention",
        help="how N references are fused: attention summaries (Eq. 13, default) or predictions",
    )
    p.add_argument(
        "--inference-size",
        nargs=2,
        type=int,
        metavar=("H", "W"),
        help="resize frames to H x W inside the graph (default: the model's own inference_size)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing version folder")
    p.set_defaults(func=run_export)


def run_export(args):
    from cosnet_tf import COSNet
    from cosnet_tf.export import export_saved_model

    model = COSNet.from_preset(args.model)
    if args.inference_size is not None:
        if min(args.inference_size) < 1:
            raise ValueError(f"--inference-size must be positive, got {args.inference_size}")
        model.inference_size = tuple(args.inference_size)
    path = export_saved_model(model, args.out, fusion=args.fusion, overwrite=args.overwrite)
    size = "any size" if model.inference_size is None else "x".join(map(str, model.inference_size))
    print(
        f"wrote {path} (signatures serving_default, encode, segment_from_features; "
        f"fusion={args.fusion}; frames resized to {size})"
    )
