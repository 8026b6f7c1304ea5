"""`cosnet segment`: segment videos (frame folders, video files, DAVIS roots) into masks."""
import argparse
import os
import sys
import time

from cosnet_tf.models.shipped import SHIPPED_MODEL as DEFAULT_MODEL  # the model without --model

_CRF_FLAGS = {
    "gaussian_sxy": (float, "spatial std of the smoothness kernel, pixels"),
    "gaussian_compat": (float, "weight of the smoothness kernel"),
    "bilateral_sxy": (float, "spatial std of the appearance kernel, pixels"),
    "bilateral_srgb": (float, "colour std of the appearance kernel"),
    "bilateral_compat": (float, "weight of the appearance kernel"),
    "iterations": (int, "mean-field iterations"),
}


def add_segment_parser(sub):
    from cosnet_tf.inference import FUSIONS, SAMPLING_STRATEGIES
    from cosnet_tf.postprocessing import DenseCRF

    p = sub.add_parser(
        "segment",
        help="segment a video (frame folder, video file or DAVIS root) and write PNG masks",
        description="Segment every frame of INPUT with COSNet's multi-reference inference: each frame "
        "is encoded once and segmented from its co-attention with N reference frames. INPUT is a "
        "folder of frames (sorted by name), a video file (needs `pip install av`) or a DAVIS root "
        "(JPEGImages/480p/<sequence>). Writes OUT/%%05d.png masks (0/255, the input's resolution), "
        "or OUT/<sequence>/%%05d.png for a DAVIS root (what `cosnet evaluate` reads); every file is "
        "written to a temporary name and renamed, so an interrupted run leaves no half-written mask.",
    )
    p.add_argument("input", help="frame folder, video file, or DAVIS root")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--model",
        default=None,
        help=f"a saved .keras model or a preset name (random weights: for timing only); "
        f"default {DEFAULT_MODEL}",
    )
    p.add_argument("--refs", type=int, default=5, help="reference frames per query, N >= 0 (default 5)")
    p.add_argument("--sampling", choices=SAMPLING_STRATEGIES, default="uniform",
                   help="how references are chosen (Table 1; default uniform)")
    p.add_argument("--fusion", choices=FUSIONS, default="attention",
                   help="fuse the N gated summaries (attention, Eq. 13) or the N predictions")
    p.add_argument("--seed", type=int, default=0, help="seed of --sampling random (default 0)")
    p.add_argument("--input-size", nargs=2, type=int, metavar=("H", "W"),
                   help="fixed size the model sees (default: --short-side, else the model's own input size)")
    p.add_argument("--short-side", type=int, metavar="S",
                   help="scale frames to a short side of about S pixels, keeping their aspect (sides rounded "
                   "to the output stride); default: the model's own (the shipped model's is in its card)")
    p.add_argument("--batch-size", type=int, default=4, help="frames per backbone call (default 4)")
    p.add_argument("--reference-pool", type=int, default=1, metavar="K",
                   help="average-pool reference features KxK before co-attention: about K^2 times less "
                   "co-attention work on large frames, an approximation of Eq. 6-7 (default 1: exact)")
    p.add_argument("--threshold", type=float, default=0.5, help="foreground where probability > T (0.5)")
    p.add_argument("--crf", action="store_true", help="refine each frame with a dense CRF (pydensecrf2)")
    defaults = DenseCRF()
    for name, (kind, text) in _CRF_FLAGS.items():
        p.add_argument(
            "--crf-" + name.replace("_", "-"), dest="crf_" + name, type=kind,
            default=getattr(defaults, name), help=f"{text} (default {getattr(defaults, name)})",
        )
    p.add_argument("--crf-workers", type=int, default=os.cpu_count() or 1,
                   help=f"processes refining frames in parallel with the model "
                   f"(default: all {os.cpu_count()} CPUs)")
    p.add_argument("--save-probabilities", action="store_true",
                   help="also write probability maps as PNGs (see --probability-bits)")
    p.add_argument("--probability-bits", type=int, choices=(8, 16), default=8,
                   help="8: round(255 p), 16: round(65535 p) (default 8)")
    p.add_argument("--probability-dir", help="where probability maps go (default OUT/probabilities)")
    p.add_argument("--overlay", action="store_true",
                   help="also write overlay images (JPEG) and an overlay video (MP4, PyAV)")
    p.add_argument("--overlay-dir", help="where overlays go (default OUT/overlays)")
    p.add_argument("--fps", type=float, help="overlay video frame rate (default: the input's, else 25)")
    p.add_argument("--sequences", nargs="+",
                   help="DAVIS sequences to segment (default: all under JPEGImages/<resolution>)")
    p.add_argument("--resolution", default="480p", help="DAVIS resolution folder (default 480p)")
    p.add_argument("--shard", type=parse_shard, metavar="K/M",
                   help="segment only every M-th video of a DAVIS root, starting at the K-th (0 <= K < M, "
                   "in sorted order), skipping videos whose masks are already complete: one shard per "
                   "process or host (a SLURM array, a Kubernetes indexed Job), safe to retry")
    p.add_argument("--skip-complete", action="store_true",
                   help="skip videos whose every mask (and asked-for probability map) already exists "
                   "(always on with --shard)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_segment)


def parse_shard(text):
    """'K/M' -> (K, M) with 0 <= K < M."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard must be K/M (e.g. 0/4), got {text!r}") from None
    if not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"--shard K/M needs 0 <= K < M, got {text!r}")
    return index, count


def _masks_complete(source, mask_dir, probability_dir=None):
    """Whether `mask_dir` (and `probability_dir`, if given) holds a file for every frame of `source`."""
    return all(
        os.path.isfile(os.path.join(folder, f"{index:05d}.png"))
        for folder in filter(None, (mask_dir, probability_dir))
        for index in range(len(source))
    )


def load_model(spec):
    """The model for `--model`: a preset name, or a saved `.keras` file (default: the shipped one)."""
    from cosnet_tf import COSNet
    from cosnet_tf.models.presets import PRESETS

    if spec in PRESETS:
        print(f"cosnet segment: warning: preset {spec!r} has untrained heads (random weights); "
              "use it for timing, not for masks", file=sys.stderr)
        return COSNet.from_preset(spec)
    if spec is None:
        from cosnet_tf.models.shipped import shipped_model_path

        try:
            return COSNet.from_preset(shipped_model_path(DEFAULT_MODEL))
        except FileNotFoundError as error:
            raise FileNotFoundError(f"{error}: pass --model PATH.keras, or a preset name for random weights") \
                from None
    if not os.path.isfile(spec):
        raise FileNotFoundError(
            f"--model {spec!r} is neither a saved .keras model nor a preset ({', '.join(PRESETS)})"
        )
    if not spec.endswith(".keras"):
        raise ValueError(f"--model must be a .keras file or a preset name, got {spec!r}")
    return COSNet.from_preset(spec)


def _is_davis_root(path):
    return os.path.isdir(os.path.join(path, "JPEGImages"))


def open_sources(args):
    """[(source, mask dir, probability dir, overlay dir)] for INPUT."""
    from cosnet_tf.inference import ImageFrameSource, open_frame_source

    probability_root = args.probability_dir or os.path.join(args.out, "probabilities")
    overlay_root = args.overlay_dir or os.path.join(args.out, "overlays")
    if _is_davis_root(args.input):
        sources = ImageFrameSource.from_davis(args.input, args.sequences, resolution=args.resolution)
        return [
            (source, os.path.join(args.out, source.name), os.path.join(probability_root, source.name),
             os.path.join(overlay_root, source.name))
            for source in sources
        ]
    if args.sequences:
        raise ValueError(f"--sequences needs a DAVIS root (with JPEGImages/), but {args.input!r} is not one")
    return [(open_frame_source(args.input), args.out, probability_root, overlay_root)]


def _progress(total, quiet):
    if quiet:
        return None
    import keras

    return keras.utils.Progbar(total, unit_name="frame")


def run_segment(args):
    """Segments INPUT as the parsed `args` say; returns frames, seconds (model loading excluded)."""
    from cosnet_tf.inference import MaskWriter, VideoSegmenter
    from cosnet_tf.postprocessing import DenseCRF

    if args.refs < 0:
        raise ValueError(f"--refs must be >= 0, got {args.refs}")
    crf = None
    if args.crf:
        crf = DenseCRF(**{name: getattr(args, "crf_" + name) for name in _CRF_FLAGS})
    # Sources first: a bad input fails in a second, before the model loads.
    sources = open_sources(args)
    if args.shard is not None:
        if not _is_davis_root(args.input):
            raise ValueError(f"--shard needs a DAVIS root (with JPEGImages/), but {args.input!r} is not one")
        index, count = args.shard
        sources = sorted(sources, key=lambda entry: entry[0].name)[index::count]
    if args.shard is not None or args.skip_complete:
        done = [source.name for source, mask_dir, probability_dir, _ in sources
                if _masks_complete(source, mask_dir, probability_dir if args.save_probabilities else None)]
        sources = [entry for entry in sources if entry[0].name not in done]
        if done:
            print(f"skipping {len(done)} video(s) whose masks are complete: {', '.join(done)}")
    started = time.perf_counter()
    model = load_model(args.model)
    segmenter = VideoSegmenter(
        model,
        num_references=args.refs,
        sampling=args.sampling,
        fusion=args.fusion,
        input_size=args.input_size,
        short_side=args.short_side,
        batch_size=args.batch_size,
        crf=crf,
        threshold=args.threshold,
        seed=args.seed,
        crf_workers=args.crf_workers,
        reference_pool=args.reference_pool,
    )
    if not args.quiet:
        print(f"model loaded in {time.perf_counter() - started:.1f} s; "
              f"{len(sources)} video(s), {sum(len(s) for s, *_ in sources)} frames")
    frames = 0
    started = time.perf_counter()
    for source, mask_dir, probability_dir, overlay_dir in sources:
        if not args.quiet and len(sources) > 1:
            print(source.name)
        progress = _progress(len(source), args.quiet)
        with MaskWriter(
            mask_dir,
            threshold=args.threshold,
            probability_dir=probability_dir if args.save_probabilities else None,
            probability_bits=args.probability_bits,
            overlay_dir=overlay_dir if args.overlay else None,
            fps=args.fps or source.fps,
            video_name=source.name,
        ) as writer:
            for index, probability, frame in segmenter.iter_segment(source, with_frames=True):
                writer.write(index, probability, frame)
                frames += 1
                if progress is not None:
                    progress.update(index + 1)
    seconds = time.perf_counter() - started
    size = segmenter.last_run.get("input_size")
    size_text = f"model input {size[0]}x{size[1]}" if size else "no video left to segment"
    print(
        f"segmented {frames} frames of {len(sources)} video(s) in {seconds:.1f} s "
        f"({frames / max(seconds, 1e-9):.2f} frames/s; N={args.refs} {args.sampling}, {args.fusion} fusion, "
        f"{size_text}{', CRF' if crf else ''}); masks in {args.out}"
    )
    return {"frames": frames, "seconds": seconds, "videos": len(sources), "last_input_size": size}
