"""`cosnet demo`: does co-attention pay? Trained and measured on a CPU in a few minutes.

1. writes the recurrence benchmark (`RecurrenceVideoGenerator`): every frame
   shows the primary object and one or two equally salient distractors whose
   look is drawn anew in every frame, so no single frame says which object is
   primary; only recurrence across the video does;
2. trains a COSNet with co-attention (and its recurrence gate) and, with the
   same recipe and budget, the same network without co-attention
   (`coattention=None`). Both start from the shipped model's backbone, kept
   frozen, with mid-level features beside the ASPP output: only the
   co-attention and heads train (docs/coattention.md), which a CPU does in
   minutes;
3. segments the held-out videos with N = 0 and N = 5 reference frames (and
   with the model without co-attention), prints region similarity J for each
   and writes one side-by-side picture per held-out video: frame, ground
   truth, N = 0, N = 5, no co-attention.
"""
import os
import time

# The shipped model's MobileNetV2 DeepLabv3 backbone (a file of the repository, so a fresh
# checkout has it), at output stride 8 (a 12x12 map at 96x96); the recipe puts block 12's output
# beside the ASPP output, since the co-attention compares looks, which the ASPP output has mostly
# lost (docs/coattention.md). Trained from scratch instead, the demo's models learned nothing in
# a few minutes (J 0.000).
_DEMO_OUTPUT_STRIDE = 8
# Without the recipe's stride-4 decoder: in the demo's 300 frozen steps it taught the heads to
# draw every salient object from the frame alone before the references were learnt. Measured
# (stop 23), J at N = 0 / N = 5 / no co-attention, seeds 0 and 1: with it 0.260 / 0.332 / 0.302
# and 0.244 / 0.268 / 0.237; without 0.033 / 0.409 / 0.226 and 0.080 / 0.310 / 0.219. Longer
# runs gain from it (docs/coattention.md, stop 23).
_DEMO_LOW_LEVEL_BLOCK = None


def add_demo_parser(sub):
    p = sub.add_parser(
        "demo",
        help="recurrence benchmark -> train with and without co-attention -> J at N=0, N=5 and pictures",
        description=__doc__,
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter,
    )
    p.add_argument("--workdir", default="runs/demo", help="where data, runs and outputs go (default runs/demo)")
    p.add_argument("--steps", type=int, default=300, help="training steps per model (default 300)")
    p.add_argument("--refs", type=int, default=5, help="reference frames for the co-attention result")
    p.add_argument("--sequences", type=int, default=72, help="benchmark videos (default 72), the last held out")
    p.add_argument("--val-sequences", type=int, default=8, help="held-out videos (default 8)")
    p.add_argument("--frames", type=int, default=6, help="frames per video (default 6)")
    p.add_argument("--backbone-weights", default=None, metavar="PATH",
                   help="the frozen backbone's weights: a saved COSNet (.keras) or a DeepLabv3 / ImageNet "
                        "MobileNetV2 .h5 (default: the shipped model, saved_models/)")
    p.add_argument("--size", type=int, nargs=2, default=(96, 96), metavar=("H", "W"))
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_demo)


def _train_config(args, data_root, name, coattention):
    from cosnet_tf.models.shipped import shipped_model_path
    from cosnet_tf.training.run_config import TrainConfig

    steps = max(10, args.steps // 10 * 10)
    # The library's stage-1 recipe (cosnet_tf.training.recipes), as in tests/test_learnability.py.
    return TrainConfig.from_dict(dict(
        recipe="coattention_frozen",
        out=os.path.join(args.workdir, name),
        davis_root=data_root,
        model=dict(
            preset="mobilenetv2",
            coattention=coattention,
            backbone_weights=args.backbone_weights or shipped_model_path(),
            backbone_config={"output_stride": _DEMO_OUTPUT_STRIDE, "low_level_block": _DEMO_LOW_LEVEL_BLOCK},
        ),
        input_size=tuple(args.size),
        steps=steps,
        checkpoint_every=steps // 2,
        val_batches=2,
        summary_dropout=0.2 if coattention else 0.0,  # also train the N = 0 mode the demo compares with
        seed=args.seed,
        verbose=2,
    ), where="cosnet demo")


def side_by_side(columns, labels, path):
    """Writes columns of [T, H, W, 3] uint8 images as one labelled PNG grid (rows = frames)."""
    import numpy as np
    from PIL import Image, ImageDraw

    from cosnet_tf.utils.atomic import atomic_output_path

    rows, height, width = columns[0].shape[:3]
    band = 14
    sheet = np.full((band + rows * height, len(columns) * width, 3), 255, np.uint8)
    for c, images in enumerate(columns):
        for r in range(rows):
            sheet[band + r * height: band + (r + 1) * height, c * width: (c + 1) * width] = images[r]
    image = Image.fromarray(sheet)
    draw = ImageDraw.Draw(image)
    for c, label in enumerate(labels):
        draw.text((c * width + 3, 1), label, fill=(0, 0, 0))
    with atomic_output_path(path, suffix=".png") as tmp:
        image.save(tmp, format="PNG")


def _mask_image(frames, probability):
    import numpy as np

    out = (frames.astype(np.float32) * 0.4).astype(np.uint8)
    out[probability > 0.5] = (255, 60, 60)
    return out


def run_demo(args):
    import numpy as np

    from cosnet_tf.data import DavisDataset, RecurrenceVideoGenerator
    from cosnet_tf.models import COSNet
    from cosnet_tf.training.run import train
    from cosnet_tf.evaluation.video_j_evaluator import VideoJEvaluator

    started = time.time()
    data_root = os.path.join(args.workdir, "data")
    if not os.path.isdir(os.path.join(data_root, "JPEGImages")):
        RecurrenceVideoGenerator(
            num_sequences=args.sequences, num_frames=args.frames, image_size=tuple(args.size),
            seed=args.seed, num_val_sequences=args.val_sequences,
        ).write_davis(data_root)
    print(f"[1/3] recurrence benchmark: {args.sequences} videos ({args.val_sequences} held out) in {data_root}")

    models = {}
    for step, (name, coattention) in enumerate((("coattention", "vanilla"), ("no-coattention", None))):
        config = _train_config(args, data_root, name, coattention)
        label = "with co-attention" if coattention else "without co-attention (coattention=None)"
        print(f"[2/3] ({step + 1}/2) training {label} for {config.steps} steps (resumes if re-run)")
        result = train(config)
        if result["error"]:
            raise RuntimeError(result["error"])
        models[name] = COSNet.from_preset(result["final"])

    val = DavisDataset(data_root, split="val")
    print(f"[3/3] segmenting {len(val)} held-out videos")
    evaluator = VideoJEvaluator(val)
    settings = {
        "N = 0": (models["coattention"], 0),
        f"N = {args.refs}": (models["coattention"], args.refs),
        "no co-attention": (models["no-coattention"], 0),
    }
    probabilities = {label: {} for label in settings}
    scores = {}
    for label, (model, refs) in settings.items():
        segmenter = evaluator.segmenter(model, refs)
        per_video = []
        for name, frames, masks in evaluator.sequences:
            probability = segmenter.segment(frames)
            probabilities[label][name] = probability
            per_video.append(evaluator.sequence_j(probability, masks))
        scores[label] = float(np.mean(per_video))
    picture_dir = os.path.join(args.workdir, "pictures")
    for name, frames, masks in evaluator.sequences:
        white = np.zeros_like(frames)
        white[masks > 0] = 255
        columns = [frames, white] + [_mask_image(frames, probabilities[label][name]) for label in settings]
        side_by_side(columns, ["frame", "truth"] + list(settings), os.path.join(picture_dir, f"{name}.png"))
    print()
    print(f"  N = 0: mean J = {scores['N = 0']:.3f}  (co-attention model, no reference frame)")
    print(f"  N = {args.refs}: mean J = {scores[f'N = {args.refs}']:.3f}  (co-attention model, "
          f"{args.refs} reference frames)")
    print(f"  no co-attention: mean J = {scores['no co-attention']:.3f}  (coattention=None, same recipe)")
    print(f"\npictures (frame | truth | N = 0 | N = {args.refs} | no co-attention) in {picture_dir}; "
          f"{time.time() - started:.0f} s in all")
    return scores
