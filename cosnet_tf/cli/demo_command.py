"""`cosnet demo`: the shipped model on a real clip, or (`--recurrence`) does co-attention pay?

Without arguments it segments the clip bundled with the package (40 frames of Big Buck Bunny,
(c) Blender Foundation, CC BY 3.0: cosnet_tf/assets/ATTRIBUTION.md) with the shipped model
and N reference frames, and writes under --out:

  masks/%05d.png            the masks (0/255), as `cosnet segment` writes them
  overlays/<clip>.mp4       the clip with its masks tinted (and overlays/%05d.jpg)
  <clip>_sheet.jpg          a few frames side by side: frame | N = 0 | N = 5

INPUT (a video file or a folder of frames) replaces the bundled clip.

With --recurrence it runs the synthetic proof instead, trained and measured on a CPU in a few
minutes:

1. writes the recurrence benchmark (`RecurrenceVideoGenerator`): every frame shows the primary
   object and one or two equally salient distractors whose look is drawn anew in every frame,
   so no single frame says which object is primary; only recurrence across the video does;
2. trains a COSNet with co-attention (and its recurrence gate) and, with the same recipe and
   budget, the same network without co-attention (`coattention=None`). Both start from the
   shipped model's backbone, kept frozen, with mid-level features beside the ASPP output: only
   the co-attention and heads train (docs/coattention.md), which a CPU does in minutes;
3. segments the held-out videos with N = 0 and N = 5 reference frames (and with the model
   without co-attention), prints region similarity J for each and writes one side-by-side
   picture per held-out video: frame, ground truth, N = 0, N = 5, no co-attention.
"""
import os
import time

from cosnet_tf.cli.flags import HelpFormatter, add_alias, add_switch

#: The trained preset the clip demo segments with, unless --model says otherwise.
DEMO_MODEL = "cosnet_mobilenetv2_davis"
#: Frames on the clip demo's sheet, unless --rows says otherwise.
DEMO_ROWS = 4
# The sheet's tiles are this wide (the clip is 640 wide): the sheet stays a small JPEG.
_SHEET_TILE_WIDTH = 320

#: The settings of `--recurrence`, unless given.
RECURRENCE_DEFAULTS = dict(steps=300, num_sequences=72, num_val_sequences=8, frames=6, input_size=(96, 96),
                           seed=0)
# The shipped backbone at output stride 8 (a 12x12 map at 96x96): from scratch the demo's models learn
# nothing in minutes (docs/research-log.md#2026-11-27--the-recurrence-gate-references-pay-on-frozen-features).
_DEMO_OUTPUT_STRIDE = 8
# No stride-4 decoder: in 300 frozen steps it teaches the heads to segment frames alone before the
# references are learnt (docs/research-log.md#2026-11-27--a-stride-4-decoder-the-recurrence-target-met-at-0811).
_DEMO_LOW_LEVEL_BLOCK = None

_CLIP_ONLY = ("input", "model", "rows")
_RECURRENCE_ONLY = ("steps", "num_sequences", "num_val_sequences", "frames", "backbone_weights",
                    "input_size", "seed")


def add_demo_parser(sub):
    p = sub.add_parser(
        "demo",
        help="segment a bundled real clip (overlay video, N = 0 / N = 5 sheet); --recurrence: the "
        "synthetic proof that co-attention pays",
        description=__doc__,
        formatter_class=HelpFormatter,
    )
    p.add_argument("--out", default="runs/demo", help="the folder the demo writes")
    p.add_argument("--refs", type=int, default=5, metavar="N",
                   help="reference frames N of the co-attention result")

    clip = p.add_argument_group("the clip demo (default)")
    clip.add_argument("input", nargs="?", default=None, metavar="INPUT",
                      help="a video file or frame folder to segment instead of the bundled clip")
    clip.add_argument("--model", default=None,
                      help=f"a trained preset or a saved .keras file (default: {DEMO_MODEL})")
    clip.add_argument("--rows", type=int, default=None, metavar="R",
                      help=f"frames on the sheet (default: {DEMO_ROWS})")

    proof = p.add_argument_group("the recurrence proof (--recurrence)")
    add_switch(proof, "--recurrence",
               help="train with and without co-attention on the synthetic recurrence benchmark "
               "and report J at N = 0 and N = --refs (a few minutes)")
    proof.add_argument("--steps", type=int,
                       help=f"training steps per model (default: {RECURRENCE_DEFAULTS['steps']})")
    proof.add_argument("--num-sequences", type=int, metavar="N",
                       help="benchmark videos, the last held out "
                       f"(default: {RECURRENCE_DEFAULTS['num_sequences']})")
    proof.add_argument("--num-val-sequences", type=int, metavar="N",
                       help=f"held-out videos (default: {RECURRENCE_DEFAULTS['num_val_sequences']})")
    proof.add_argument("--frames", type=int,
                       help=f"frames per video (default: {RECURRENCE_DEFAULTS['frames']})")
    proof.add_argument("--backbone-weights", metavar="PATH",
                       help="the frozen backbone's weights: a saved COSNet (.keras) or a DeepLabv3 / ImageNet "
                       "MobileNetV2 .h5 (default: the shipped model)")
    proof.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"),
                       help="the network's input size (default: {} {})".format(*RECURRENCE_DEFAULTS["input_size"]))
    proof.add_argument("--seed", type=int, help=f"the benchmark's and training's seed "
                       f"(default: {RECURRENCE_DEFAULTS['seed']})")
    add_alias(p, "--workdir", "--out")
    add_alias(p, "--size", "--input-size")
    add_alias(p, "--sequences", "--num-sequences")
    add_alias(p, "--val-sequences", "--num-val-sequences")
    p.set_defaults(func=run_demo)


def run_demo(args):
    """Runs the clip demo, or with `args.recurrence` the recurrence proof."""
    if args.refs < 0:
        raise ValueError(f"--refs must be >= 0, got {args.refs}")
    mode, other = ("--recurrence", _CLIP_ONLY) if args.recurrence else ("the clip demo", _RECURRENCE_ONLY)
    given = [name for name in other if getattr(args, name) is not None]
    if given:
        flags = ", ".join("INPUT" if name == "input" else "--" + name.replace("_", "-") for name in given)
        verb = "does" if len(given) == 1 else "do"
        raise ValueError(f"{flags} {verb} not apply to {mode} (see cosnet demo --help)")
    if args.recurrence:
        for name, value in RECURRENCE_DEFAULTS.items():
            if getattr(args, name) is None:
                setattr(args, name, value)
        return run_recurrence_demo(args)
    return run_clip_demo(args)


def side_by_side(columns, labels, path, tile_width=None):
    """Writes columns of [T, H, W, 3] uint8 images as one labelled grid (rows = frames).

    Args:
        columns: one [T, H, W, 3] array per column, all of one shape.
        labels: a title per column.
        path: the picture; `.jpg`/`.jpeg` writes a JPEG, anything else a PNG.
        tile_width: scale every image to this width (aspect kept); default their own.
    """
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    from cosnet_tf.utils.atomic import atomic_output_path

    rows, height, width = columns[0].shape[:3]
    if tile_width and tile_width != width:
        height, width = max(1, round(height * tile_width / width)), tile_width
        columns = [np.stack([np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))
                             for image in images]) for images in columns]
    band = max(14, width // 16)  # the labels' strip, legible at any tile size
    sheet = np.full((band + rows * height, len(columns) * width, 3), 255, np.uint8)
    for c, images in enumerate(columns):
        for r in range(rows):
            sheet[band + r * height: band + (r + 1) * height, c * width: (c + 1) * width] = images[r]
    image = Image.fromarray(sheet)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=band - 3)
    for c, label in enumerate(labels):
        draw.text((c * width + 3, 1), label, fill=(0, 0, 0), font=font)
    jpeg = str(path).lower().endswith((".jpg", ".jpeg"))
    with atomic_output_path(path, suffix=".jpg" if jpeg else ".png") as tmp:
        image.save(tmp, format="JPEG" if jpeg else "PNG", **({"quality": 85} if jpeg else {}))


def _overlays(frames, probabilities, threshold=0.5):
    import numpy as np

    from cosnet_tf.inference.mask_writer import overlay_mask

    return np.stack([overlay_mask(frame, probability > threshold)
                     for frame, probability in zip(frames, probabilities)])


def run_clip_demo(args):
    """Segments the bundled clip (or INPUT): masks, an overlay video and a frame | N = 0 | N = refs sheet."""
    import numpy as np

    from cosnet_tf.assets import demo_clip_path
    from cosnet_tf.cli.segment_command import load_model
    from cosnet_tf.inference import MaskWriter, VideoSegmenter, open_frame_source

    started = time.perf_counter()
    rows = DEMO_ROWS if args.rows is None else args.rows
    if rows < 1:
        raise ValueError(f"--rows must be >= 1, got {rows}")
    source = open_frame_source(args.input or demo_clip_path())  # a bad INPUT fails before the model loads
    model = load_model(args.model or DEMO_MODEL, command="demo")
    height, width = source.frame_size
    print(f"[1/3] {source.name}: {len(source)} frames of {width}x{height}; model {args.model or DEMO_MODEL} "
          f"loaded ({time.perf_counter() - started:.0f} s)")

    shown = sorted({int(i) for i in np.linspace(0, len(source) - 1, min(rows, len(source))).round()})
    frames, with_refs = {}, {}
    mask_dir, overlay_dir = os.path.join(args.out, "masks"), os.path.join(args.out, "overlays")
    print(f"[2/3] segmenting with N = {args.refs} reference frames")
    segmenting = time.perf_counter()
    with MaskWriter(mask_dir, overlay_dir=overlay_dir, fps=source.fps, video_name=source.name) as writer:
        for index, probability, frame in VideoSegmenter(model, args.refs).iter_segment(source, with_frames=True):
            writer.write(index, probability, frame)
            if index in shown:
                frames[index], with_refs[index] = frame, probability
    seconds = time.perf_counter() - segmenting
    video = os.path.join(overlay_dir, f"{source.name}.mp4")
    print(f"      {len(source)} frames in {seconds:.0f} s ({len(source) / seconds:.2f} frames/s): masks in "
          f"{mask_dir}, overlay video {video}")

    print(f"[3/3] the sheet: {len(shown)} frames with N = 0 beside N = {args.refs}")
    frames = np.stack([frames[i] for i in shown])
    alone = VideoSegmenter(model, 0).segment(frames)  # N = 0 reads each frame alone: a subset segments the same
    with_refs = np.stack([with_refs[i] for i in shown])
    sheet = os.path.join(args.out, f"{source.name}_sheet.jpg")
    side_by_side([frames, _overlays(frames, alone), _overlays(frames, with_refs)],
                 ["frame", "N = 0", f"N = {args.refs}"], sheet, tile_width=min(width, _SHEET_TILE_WIDTH))
    masks_0, masks_n = alone > 0.5, with_refs > 0.5
    union = np.logical_or(masks_0, masks_n).sum()
    agreement = np.logical_and(masks_0, masks_n).sum() / union if union else 1.0
    print(f"\nsheet (frame | N = 0 | N = {args.refs}, frames {', '.join(map(str, shown))}) in {sheet}; "
          f"the N = 0 and N = {args.refs} masks overlap with IoU {agreement:.3f} there; "
          f"{time.perf_counter() - started:.0f} s in all")
    return {"frames": len(source), "seconds": seconds, "video": video, "sheet": sheet, "iou_0_n": float(agreement)}


def _train_config(args, data_root, name, coattention):
    from cosnet_tf.models.shipped import shipped_model_path
    from cosnet_tf.training.run_config import TrainConfig

    steps = max(10, args.steps // 10 * 10)
    # The library's stage-1 recipe (cosnet_tf.training.recipes), as in tests/test_learnability.py.
    return TrainConfig.from_dict(dict(
        recipe="coattention_frozen",
        out=os.path.join(args.out, name),
        davis_root=data_root,
        model=dict(
            preset="mobilenetv2",
            coattention=coattention,
            backbone_weights=args.backbone_weights or shipped_model_path(),
            backbone_config={"output_stride": _DEMO_OUTPUT_STRIDE, "low_level_block": _DEMO_LOW_LEVEL_BLOCK},
        ),
        input_size=tuple(args.input_size),
        steps=steps,
        checkpoint_every=steps // 2,
        val_batches=2,
        summary_dropout=0.2 if coattention else 0.0,  # also train the N = 0 mode the demo compares with
        seed=args.seed,
        verbose=2,
    ), where="cosnet demo --recurrence")


def run_recurrence_demo(args):
    """The recurrence proof: J at N = 0, N = refs and without co-attention on held-out synthetic videos."""
    import numpy as np

    from cosnet_tf.data import DavisDataset, RecurrenceVideoGenerator
    from cosnet_tf.models import COSNet
    from cosnet_tf.training.run import train
    from cosnet_tf.evaluation.video_j_evaluator import VideoJEvaluator

    started = time.time()
    data_root = os.path.join(args.out, "data")
    if not os.path.isdir(os.path.join(data_root, "JPEGImages")):
        RecurrenceVideoGenerator(
            num_sequences=args.num_sequences, num_frames=args.frames, image_size=tuple(args.input_size),
            seed=args.seed, num_val_sequences=args.num_val_sequences,
        ).write_davis(data_root)
    print(f"[1/3] recurrence benchmark: {args.num_sequences} videos ({args.num_val_sequences} held out) "
          f"in {data_root}")

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
    picture_dir = os.path.join(args.out, "pictures")
    for name, frames, masks in evaluator.sequences:
        white = np.zeros_like(frames)
        white[masks > 0] = 255
        columns = [frames, white] + [_overlays(frames, probabilities[label][name]) for label in settings]
        side_by_side(columns, ["frame", "truth"] + list(settings), os.path.join(picture_dir, f"{name}.png"))
    print()
    print(f"  N = 0: mean J = {scores['N = 0']:.3f}  (co-attention model, no reference frame)")
    print(f"  N = {args.refs}: mean J = {scores[f'N = {args.refs}']:.3f}  (co-attention model, "
          f"{args.refs} reference frames)")
    print(f"  no co-attention: mean J = {scores['no co-attention']:.3f}  (coattention=None, same recipe)")
    print(f"\npictures (frame | truth | N = 0 | N = {args.refs} | no co-attention) in {picture_dir}; "
          f"{time.time() - started:.0f} s in all")
    return scores
