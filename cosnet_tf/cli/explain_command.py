"""`cosnet explain`: a picture of what the co-attention does for one frame of a video."""
import json
import os

from cosnet_tf.cli.flags import HelpFormatter, add_model_argument, add_reference_arguments, add_size_arguments


def add_explain_parser(sub):
    p = sub.add_parser(
        "explain",
        formatter_class=HelpFormatter,
        help="draw one frame's masks with N = 0 and N references, the gate and the attention maps",
        description="Segment frame K of INPUT with no reference frame and with N of them, and write "
        "OUT/frame_K.png: the query frame, both masks side by side, the gate's confidence (Eq. 8) per "
        "reference, and for a few query points where they attend in each reference frame (the softmax "
        "of Eq. 6 as a heat map). OUT/frame_K.npz holds the same arrays. INPUT is a frame folder, a "
        "video file or a DAVIS sequence folder.",
    )
    p.add_argument("input", help="frame folder, video file or DAVIS sequence folder")
    p.add_argument("--frame", type=int, default=0, help="the query frame K")
    p.add_argument("--out", required=True, help="output folder")
    add_model_argument(p, help="a model with co-attention: a saved .keras file (path) or a preset name",
                       default_text="the shipped co-attention model, cosnet_mobilenetv2_davis")
    add_reference_arguments(p, minimum=1)
    p.add_argument("--point", nargs=2, type=int, action="append", metavar=("ROW", "COL"),
                   help="a query point in frame pixels (repeat for several; default: chosen from the masks)")
    add_size_arguments(p, short_side=False, default_text="what cosnet segment uses for the model")
    p.set_defaults(func=run_explain)


def run_explain(args):
    import numpy as np

    from cosnet_tf.cli.segment_command import load_model
    from cosnet_tf.models.shipped import COATTENTION_MODEL
    from cosnet_tf.inference.explanation import explain_frame, render_explanation_sheet
    from cosnet_tf.utils.atomic import atomic_output_path

    model = load_model(args.model or COATTENTION_MODEL, command="explain")
    result = explain_frame(
        model, args.input, args.frame, num_references=args.refs, sampling=args.sampling,
        query_points=args.point, input_size=args.input_size, seed=args.seed,
    )
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f"frame_{args.frame:05d}")
    render_explanation_sheet(result, stem + ".png", title=f"{os.path.basename(os.path.normpath(args.input))}, "
                             f"frame {args.frame}")
    with atomic_output_path(stem + ".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **{k: np.asarray(v) for k, v in vars(result).items()})
    summary = {
        "frame": args.frame,
        "references": result.reference_indices,
        "foreground_share_N0": float((result.probability_without > 0.5).mean()),
        f"foreground_share_N{len(result.reference_indices)}": float((result.probability_with > 0.5).mean()),
        "gate_mean": float(result.gate_confidence.mean()),
        "query_points": result.query_points.tolist(),
    }
    print(json.dumps(summary))
    print(f"wrote {stem}.png and {stem}.npz")
