"""What `cosnet segment` and `cosnet predict` share: the input videos they open and the masks they write.

INPUT is a folder of frames, a video file, a DAVIS root, a folder of videos (video files and frame
folders) or, online, a live stream; the outputs are `%05d.png` masks (and, if asked, probability
maps and overlays) written through one `MaskWriter`, one output folder per video for a DAVIS root
or a folder of videos. Only where the probabilities come from differs: the model in this
process (`cosnet segment`) or a model server (`cosnet predict`).
"""
import argparse
import os
import sys

from cosnet_tf.cli.flags import add_switch


def add_video_output_arguments(p):
    """The output, DAVIS-selection and sharding flags of a command that writes masks of videos."""
    p.add_argument("--threshold", type=float, default=0.5, help="foreground where probability > T")
    add_switch(p, "--save-probabilities", help="also write probability maps as PNGs (see --probability-bits)")
    p.add_argument("--probability-bits", type=int, choices=(8, 16), default=8,
                   help="8: round(255 p), 16: round(65535 p)")
    p.add_argument("--probability-dir", help="where probability maps go (default: OUT/probabilities)")
    add_switch(p, "--overlay", help="also write overlay images (JPEG) and an overlay video (MP4, PyAV)")
    p.add_argument("--overlay-dir", help="where overlays go (default: OUT/overlays)")
    p.add_argument("--fps", type=float, help="overlay video frame rate (default: the input's, else 25)")
    p.add_argument("--sequences", nargs="+", metavar="NAME",
                   help="DAVIS sequences to segment (default: all under JPEGImages/<resolution>)")
    p.add_argument("--resolution", default="480p", help="DAVIS resolution folder")
    p.add_argument("--shard", type=parse_shard, metavar="K/M",
                   help="segment only every M-th video of a DAVIS root or a folder of videos, starting at "
                   "the K-th (0 <= K < M, in sorted order), skipping videos whose masks are already "
                   "complete: one shard per process or host (a SLURM array, a Kubernetes indexed Job), safe to retry")
    add_switch(p, "--skip-complete", help="skip videos whose every mask (and asked-for probability map) "
               "already exists (always on with --shard)")
    add_switch(p, "--quiet", help="no progress bar")


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
    if not hasattr(source, "__len__"):  # a live stream: never complete
        return False
    return all(
        os.path.isfile(os.path.join(folder, f"{index:05d}.png"))
        for folder in filter(None, (mask_dir, probability_dir))
        for index in range(len(source))
    )


def _is_davis_root(path):
    return os.path.isdir(os.path.join(path, "JPEGImages"))


def _folder_of_videos(path):
    """[(name, path)] of the video files and frame folders in `path`; [] when `path` is none of those."""
    from cosnet_tf.data.decoding import DataFileError
    from cosnet_tf.inference.video_frame_source import VIDEO_EXTENSIONS
    from cosnet_tf.utils.image_files import list_image_files, natural_sort_key

    if not os.path.isdir(path) or list_image_files(path):  # frames in the folder itself: one video
        return []
    videos = {}
    for entry in sorted(os.listdir(path), key=natural_sort_key):
        if entry.startswith("."):
            continue
        full = os.path.join(path, entry)
        stem, extension = os.path.splitext(entry)
        if os.path.isdir(full) and list_image_files(full):
            name = entry
        elif os.path.isfile(full) and extension.lower() in VIDEO_EXTENSIONS:
            name = stem
        else:
            continue
        if name in videos:
            raise DataFileError(f"'{videos[name]}' and '{full}' would both write to {name}/ under --out; "
                                "rename one")
        videos[name] = full
    return sorted(videos.items())


def _list_inputs(args):
    """What INPUT holds: ([(name, open, mask dir, probability dir, overlay dir)], several videos?).

    The one place that enumerates the inputs: a DAVIS root (one video per sequence), a folder of
    videos (video files and frame folders, one output folder each), one video (a frame folder or a
    video file) or, with --online, a live stream. `open()` opens a video's source: a folder of
    videos is sharded before any of its files is decoded.
    """
    from cosnet_tf.inference import ImageFrameSource, is_live_input, open_frame_source, open_online_source

    online = getattr(args, "online", False)
    probability_root = args.probability_dir or os.path.join(args.out, "probabilities")
    overlay_root = args.overlay_dir or os.path.join(args.out, "overlays")

    def one_of_several(name, open_video):
        return (name, open_video, os.path.join(args.out, name), os.path.join(probability_root, name),
                os.path.join(overlay_root, name))

    live = is_live_input(args.input)
    if live and not online:
        raise ValueError(f"INPUT {args.input!r} is a live stream (stdin, a URL or a device): it needs "
                         "`cosnet segment --online`")
    if not live and _is_davis_root(args.input):
        sources = ImageFrameSource.from_davis(args.input, args.sequences, resolution=args.resolution)
        return [one_of_several(source.name, lambda source=source: source) for source in sources], True
    if args.sequences:
        raise ValueError(f"--sequences needs a DAVIS root (with JPEGImages/), but {args.input!r} is not one")
    opener = open_online_source if online else open_frame_source
    videos = [] if live else _folder_of_videos(args.input)
    if videos:
        return [one_of_several(name, lambda path=path, name=name: opener(path, name=name))
                for name, path in videos], True
    if online:
        return [(None, lambda: open_online_source(args.input, stdin_size=args.stdin_size), args.out,
                 probability_root, overlay_root)], False
    return [(None, lambda: open_frame_source(args.input), args.out, probability_root, overlay_root)], False


def _progress(total, quiet):
    if quiet:
        return None
    import keras

    return keras.utils.Progbar(total, unit_name="frame")


def open_sources(args):
    """[(source, mask dir, probability dir, overlay dir)] for INPUT, after --shard and --skip-complete."""
    entries, several = _list_inputs(args)
    if args.shard is not None:
        if not several:
            raise ValueError(f"--shard needs a DAVIS root or a folder of videos, but {args.input!r} is "
                             "one video")
        index, count = args.shard
        entries = sorted(entries, key=lambda entry: entry[0])[index::count]
    sources = [(open_video(), *folders) for _, open_video, *folders in entries]
    if args.shard is not None or args.skip_complete:
        done = [source.name for source, mask_dir, probability_dir, _ in sources
                if _masks_complete(source, mask_dir, probability_dir if args.save_probabilities else None)]
        sources = [entry for entry in sources if entry[0].name not in done]
        if done:
            print(f"skipping {len(done)} video(s) whose masks are complete: {', '.join(done)}")
    return sources


def write_video_outputs(args, sources, iter_probabilities, finish_on_interrupt=False):
    """Writes the masks (and asked-for extras) of every source; returns the number of frames.

    Args:
        args: the parsed flags of `add_video_output_arguments`.
        sources: from `open_sources`.
        iter_probabilities: `source -> iterator of (index, [H, W] probabilities, frame or None)`;
            a missing frame is read from the source when an overlay needs it.
        finish_on_interrupt: Ctrl-C ends the run as the end of the stream would (the overlay
            video is finished, the summary printed): a live stream's normal end.
    """
    from cosnet_tf.inference import MaskWriter

    frames = 0
    for source, mask_dir, probability_dir, overlay_dir in sources:
        if not args.quiet and len(sources) > 1:
            print(source.name)
        progress = _progress(len(source) if hasattr(source, "__len__") else None, args.quiet)
        interrupted = False
        with MaskWriter(
            mask_dir,
            threshold=args.threshold,
            probability_dir=probability_dir if args.save_probabilities else None,
            probability_bits=args.probability_bits,
            overlay_dir=overlay_dir if args.overlay else None,
            fps=args.fps or source.fps,
            video_name=source.name,
        ) as writer:
            try:
                for index, probability, frame in iter_probabilities(source):
                    if frame is None and args.overlay:
                        frame = source.read_frames([index])[index]
                    writer.write(index, probability, frame)
                    frames += 1
                    if progress is not None:
                        progress.update(index + 1)
            except KeyboardInterrupt:
                if not finish_on_interrupt:
                    raise
                interrupted = True
        if interrupted:
            print(f"\ninterrupted: {writer.written} frame(s) of {source.name!r} written, each file complete",
                  file=sys.stderr)
            break
    return frames
