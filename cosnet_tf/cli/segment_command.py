"""`cosnet segment`: segment videos (frame folders, video files, DAVIS roots) into masks."""
import os
import time

from cosnet_tf.cli.flags import (
    HelpFormatter,
    add_fusion_argument,
    add_model_argument,
    add_reference_arguments,
    add_size_arguments,
    add_switch,
    at_least,
    warn,
)
from cosnet_tf.cli.video_outputs import add_video_output_arguments, open_sources, write_video_outputs

#: The model without --model (None: the shipped one, `cosnet_tf.models.shipped.SHIPPED_MODEL`,
#: looked up when a command runs: importing the models loads TensorFlow).
DEFAULT_MODEL = None

_CRF_FLAGS = {
    "gaussian_sxy": (float, "spatial std of the smoothness kernel, pixels"),
    "gaussian_compat": (float, "weight of the smoothness kernel"),
    "bilateral_sxy": (float, "spatial std of the appearance kernel, pixels"),
    "bilateral_srgb": (float, "colour std of the appearance kernel"),
    "bilateral_compat": (float, "weight of the appearance kernel"),
    "iterations": (int, "mean-field iterations"),
}


def add_segment_parser(sub):
    from cosnet_tf.postprocessing import DenseCRF

    p = sub.add_parser(
        "segment",
        help="segment a video (frame folder, video file or DAVIS root) and write PNG masks",
        formatter_class=HelpFormatter,
        description="Segment every frame of INPUT with COSNet's multi-reference inference: each frame "
        "is encoded once and segmented from its co-attention with N reference frames. INPUT is a "
        "folder of frames (sorted by name), a video file (needs `pip install av`) or a DAVIS root "
        "(JPEGImages/480p/<sequence>). Writes OUT/%05d.png masks (0/255, the input's resolution), "
        "or OUT/<sequence>/%05d.png for a DAVIS root (what `cosnet evaluate` reads) and OUT/<name>/%05d.png "
        "for a folder of videos; every file is written to a temporary name and renamed, so an interrupted "
        "run leaves no half-written mask. With --online, each frame is segmented as it arrives from "
        "references among the frames before it: INPUT may then be a live stream.",
    )
    p.add_argument("input", help="frame folder, video file, DAVIS root, folder of videos (video files and frame "
                   "folders: one OUT/<name>/ each) or, with --online, a live stream: '-' (stdin), a URL or a device")
    p.add_argument("--out", required=True, help="output folder")
    add_model_argument(p, help="a saved .keras file (path), a preset name (architecture presets have "
                       "random weights: for timing only) or a LiteRT export (`cosnet export --format litert`: "
                       "its folder, a variant folder or a .tflite file; needs the litert extra)")
    add_reference_arguments(p)
    add_fusion_argument(p)
    add_size_arguments(p, default_text="the model's own; the shipped model's is in its card")
    p.add_argument("--batch-size", type=at_least(1), default=4, help="frames per backbone call")
    p.add_argument("--reference-pool", type=at_least(1), default=1, metavar="K",
                   help="average-pool reference features KxK before co-attention: about K^2 times less "
                   "co-attention work on large frames, an approximation of Eq. 6-7 (1: exact)")
    add_switch(p, "--flip", help="test-time flip averaging: also segment each frame mirrored (from its "
               "mirrored references) and average the two probabilities; twice the model's work")
    add_switch(p, "--crf", help="refine each frame with a dense CRF (pydensecrf2)")
    defaults = DenseCRF()
    for name, (kind, text) in _CRF_FLAGS.items():
        p.add_argument("--crf-" + name.replace("_", "-"), dest="crf_" + name, type=kind,
                       default=getattr(defaults, name), help=text)
    p.add_argument("--crf-workers", type=at_least(1), default=os.cpu_count() or 1,
                   help="processes refining frames in parallel with the model (default: all CPUs)")
    add_video_output_arguments(p)
    add_switch(p, "--online", help="segment each frame as it arrives, with references only from frames already "
               "seen, kept in a bounded memory (the first frame, frames spread over the past, the latest one): "
               "for live streams; masks are written as frames come in and Ctrl-C ends the run cleanly")
    p.add_argument("--online-lag", type=at_least(0), default=0, metavar="L",
                   help="with --online, segment each frame once L more frames have arrived, so those may be "
                   "among its references: each mask comes L frames late (default: 0, at once)")
    p.add_argument("--stdin-size", nargs=2, type=at_least(1), metavar=("H", "W"),
                   help="with INPUT '-': stdin carries raw RGB24 frames of H x W pixels, H*W*3 bytes each "
                   "(e.g. `ffmpeg -i SRC -f rawvideo -pix_fmt rgb24 - | cosnet segment - --online --stdin-size H W`)")
    p.set_defaults(func=run_segment)


def load_model(spec, command="segment"):
    """The model for `--model`: a preset, a `.keras` file (default: the shipped one) or a LiteRT export.

    A LiteRT export (its folder, a variant folder or a `.tflite` file) gives a `LiteRTModel`, for
    `cosnet segment` only.
    """
    from cosnet_tf import COSNet
    from cosnet_tf.inference.litert_core import LiteRTModel, is_litert_path

    if is_litert_path(spec):
        if command != "segment":
            raise ValueError(f"--model {spec!r} is a LiteRT export: only `cosnet segment` runs those; "
                             f"`cosnet {command}` needs a .keras file or a preset name")
        return LiteRTModel(spec)
    from cosnet_tf.models.presets import PRESETS, TRAINED_PRESETS

    if spec in TRAINED_PRESETS:
        return COSNet.from_preset(spec)
    if spec in PRESETS:
        warn(f"preset {spec!r} has untrained heads (random weights): use it for timing, not for masks; "
             f"the trained presets are {', '.join(TRAINED_PRESETS)}")
        return COSNet.from_preset(spec)
    from cosnet_tf.models.shipped import SHIPPED_FILES, SHIPPED_MODEL, shipped_model_path

    if spec is None or spec in SHIPPED_FILES:  # shipped files: found from any directory
        try:
            return COSNet.from_preset(shipped_model_path(spec or DEFAULT_MODEL or SHIPPED_MODEL))
        except FileNotFoundError as error:
            raise FileNotFoundError(f"{error}: pass --model PATH.keras, or a preset name for random weights") \
                from None
    if not os.path.isfile(spec):
        raise FileNotFoundError(
            f"--model {spec!r} is neither a saved .keras model nor a preset "
            f"({', '.join([*TRAINED_PRESETS, *PRESETS])})"
        )
    if not spec.endswith(".keras"):
        raise ValueError(f"--model must be a .keras file or a preset name, got {spec!r}")
    return COSNet.from_preset(spec)


def run_segment(args):
    """Segments INPUT as the parsed `args` say; returns frames, seconds (model loading excluded)."""
    from cosnet_tf.inference import OnlineSegmenter, VideoSegmenter
    from cosnet_tf.inference.litert_core import LiteRTModel, LiteRTSegmenter
    from cosnet_tf.postprocessing import DenseCRF

    crf = None
    if args.crf:
        crf = DenseCRF(**{name: getattr(args, "crf_" + name) for name in _CRF_FLAGS})
    if args.online_lag and not args.online:
        raise ValueError("--online-lag applies with --online only")
    if args.online and args.sampling != "uniform":
        raise ValueError("--sampling does not apply with --online: references are past frames spread over the "
                         "stream (OnlineReferenceStore)")
    # Sources first: a bad input fails in a second, before the model loads.
    sources = open_sources(args)
    started = time.perf_counter()
    model = load_model(args.model)
    options = dict(
        num_references=args.refs,
        fusion=args.fusion,
        input_size=args.input_size,
        short_side=args.short_side,
        batch_size=args.batch_size,
        crf=crf,
        threshold=args.threshold,
        crf_workers=args.crf_workers,
        reference_pool=args.reference_pool,
        flip=args.flip,
    )
    if isinstance(model, LiteRTModel):
        if args.online:
            raise ValueError("--online runs on a Keras model; a LiteRT export segments whole videos")
        segmenter = LiteRTSegmenter(model, sampling=args.sampling, seed=args.seed, **options)
    elif args.online:
        segmenter = OnlineSegmenter(model, lag=args.online_lag, **options)
    else:
        segmenter = VideoSegmenter(model, sampling=args.sampling, seed=args.seed, **options)
    if not args.quiet:
        known = [len(source) for source, *_ in sources if hasattr(source, "__len__")]
        frames_text = f"{sum(known)} frames" if len(known) == len(sources) else "a live stream"
        print(f"model loaded in {time.perf_counter() - started:.1f} s; {len(sources)} video(s), {frames_text}")
    started = time.perf_counter()
    frames = write_video_outputs(args, sources, lambda source: segmenter.iter_segment(source, with_frames=True),
                                 finish_on_interrupt=args.online)
    seconds = time.perf_counter() - started
    size = segmenter.last_run.get("input_size")
    sampling = args.sampling
    if args.online:
        sampling = f"online, {args.online_lag}-frame lag" if args.online_lag else "online"
    references = (f"N={args.refs} {sampling}, {segmenter.fusion} fusion" if getattr(model, "coattention", None)
                  is not None else "no co-attention: frame by frame")
    size_text = f"model input {size[0]}x{size[1]}" if size else "no video left to segment"
    print(
        f"segmented {frames} frames of {len(sources)} video(s) in {seconds:.1f} s "
        f"({frames / max(seconds, 1e-9):.2f} frames/s; {references}, "
        f"{size_text}{', flip' if args.flip else ''}{', CRF' if crf else ''}); masks in {args.out}"
    )
    return {"frames": frames, "seconds": seconds, "videos": len(sources), "last_input_size": size}
