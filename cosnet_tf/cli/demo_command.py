"""`cosnet demo`: the whole method on synthetic videos, on a CPU, in a few minutes.

1. writes a synthetic DAVIS-layout dataset: textured moving backgrounds, one
   primary object in every frame, look-alike distractors in some frames only;
2. trains a small COSNet on the training videos with `model.fit`;
3. segments the held-out videos with N = 0 (no co-attention) and N = 5
   reference frames, prints region similarity J for both, writes overlays.
"""
import os
import time

_DEMO_BACKBONE = {"alpha": 0.35, "output_stride": 8, "aspp_filters": 64, "output_filters": 64}


def add_demo_parser(sub):
    p = sub.add_parser(
        "demo",
        help="generate synthetic videos, train a small model, segment held-out videos with N=0 and N=5",
        description=__doc__,
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter,
    )
    p.add_argument("--workdir", default="runs/demo", help="where data, run and outputs go (default runs/demo)")
    p.add_argument("--steps", type=int, default=600, help="training steps (default 600: a few CPU minutes)")
    p.add_argument("--refs", type=int, default=5, help="reference frames for the co-attention result")
    p.add_argument("--sequences", type=int, default=12, help="synthetic videos (a quarter are held out)")
    p.add_argument("--frames", type=int, default=16, help="frames per video")
    p.add_argument("--size", type=int, nargs=2, default=(96, 128), metavar=("H", "W"))
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_demo)


def run_demo(args):
    from cosnet_tf.data import DavisDataset, SyntheticVideoGenerator
    from cosnet_tf.evaluation import evaluate
    from cosnet_tf.inference import ImageFrameSource, MaskWriter, VideoSegmenter
    from cosnet_tf.models import COSNet
    from cosnet_tf.training.run import train
    from cosnet_tf.training.run_config import TrainConfig

    started = time.time()
    data_root = os.path.join(args.workdir, "data")
    num_val = max(1, args.sequences // 4)
    generator = SyntheticVideoGenerator(
        num_sequences=args.sequences,
        num_frames=args.frames,
        image_size=tuple(args.size),
        seed=args.seed,
        num_val_sequences=num_val,
    )
    generator.write_davis(data_root)
    print(f"[1/3] wrote {args.sequences} synthetic videos ({num_val} held out) to {data_root}")

    steps = max(10, args.steps // 10 * 10)
    config = TrainConfig(
        run_dir=os.path.join(args.workdir, "run"),
        davis_root=data_root,
        preset="mobilenetv2",
        coattention="vanilla",
        backbone_config=_DEMO_BACKBONE,
        image_size=tuple(args.size),
        batch_size=4,
        steps=steps,
        checkpoint_every=steps // 10,
        learning_rate=0.02,
        weight_decay=1e-4,
        summary_dropout=0.2,  # also train the N = 0 mode the demo compares with
        freeze_backbone_batch_norm=True,  # 600 steps are too few for moving averages (momentum 0.999)
        seed=args.seed,
        verbose=2,
    )
    print(f"[2/3] training a small COSNet from scratch for {steps} steps (resumes if re-run)")
    result = train(config)
    if result["error"]:
        raise RuntimeError(result["error"])
    model = COSNet.from_preset(result["final"])

    val = DavisDataset(data_root, split="val")
    print(f"[3/3] segmenting {len(val)} held-out videos with N = 0 and N = {args.refs} references")
    scores = {}
    for refs in (0, args.refs):
        pred_root = os.path.join(args.workdir, "predictions", f"N{refs}")
        segmenter = VideoSegmenter(model, num_references=refs, sampling="uniform", fusion="attention")
        for sequence in val:
            overlays = os.path.join(args.workdir, "overlays", f"N{refs}", sequence.name)
            writer = MaskWriter(os.path.join(pred_root, sequence.name), overlay_dir=overlays,
                                video_name=sequence.name)
            with writer:
                source = ImageFrameSource(sequence.frame_paths, name=sequence.name)
                for index, probability, frame in segmenter.iter_segment(source, with_frames=True):
                    writer.write(index, probability, frame=frame)
        table = evaluate(pred_root, data_root, "davis2016", sequences=val.sequence_names, measures=("J",))
        scores[refs] = table.overall.values["J_mean"]
    print()
    for refs, j in scores.items():
        label = "no co-attention" if refs == 0 else "co-attention"
        print(f"  N = {refs}: mean J = {j:.3f}  ({label})")
    print(
        f"\noverlays in {os.path.join(args.workdir, 'overlays')}, masks in "
        f"{os.path.join(args.workdir, 'predictions')}; {time.time() - started:.0f} s in all"
    )
