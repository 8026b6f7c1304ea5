"""`cosnet predict`: segment a frame folder (or a video file) through a model server."""

import os

_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def add_predict_parser(sub):
    p = sub.add_parser(
        "predict",
        help="segment a video through TF Serving (or cosnet serve) and write PNG masks",
        description="Segment every frame of INPUT (a folder of frames, sorted by name, or a video file "
        "when PyAV is installed) through a served COSNet: each frame is encoded once, then segmented "
        "against N reference frames evenly spread over the video. Writes OUT/%%05d.png (frame order, "
        "from 00000), each file atomically.",
    )
    p.add_argument("input", help="folder of frames (.jpg/.png) or a video file (needs `pip install av`)")
    p.add_argument("--server", required=True, help="HOST:PORT of the server (gRPC 8500, REST 8501)")
    p.add_argument("--model-name", required=True, help="the served model's name")
    p.add_argument("--out", required=True, help="output folder for the masks")
    p.add_argument("--refs", type=int, default=5, help="reference frames per query, N >= 0 (default 5)")
    p.add_argument("--sampling", choices=("uniform", "random", "local"), default="uniform",
                   help="how references are chosen, as in cosnet segment (default uniform)")
    p.add_argument("--seed", type=int, default=0, help="seed of --sampling random (default 0)")
    p.add_argument("--rest", action="store_true", help="use the REST API instead of gRPC")
    p.add_argument("--version", type=int, help="model version (default: the latest)")
    p.add_argument("--batch-size", type=int, default=4, help="frames per encode request (default 4)")
    p.add_argument("--threshold", type=float, default=0.5, help="foreground where probability > T (0.5)")
    p.add_argument(
        "--probabilities",
        action="store_true",
        help="write probability maps (grey = round(255 p)) instead of 0/255 masks",
    )
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default 120)")
    p.set_defaults(func=run_predict)


def read_frames(path):
    """RGB uint8 frames of a folder (sorted by name) or a video file (PyAV)."""
    import numpy as np

    from cosnet_tf.data import load_rgb_image

    if os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if n.lower().endswith(_IMAGE_EXTENSIONS))
        if not names:
            raise ValueError(f"No frames ({', '.join(_IMAGE_EXTENSIONS)}) in {path}")
        return [load_rgb_image(os.path.join(path, n)) for n in names]
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Input not found: {path}")
    from cosnet_tf.utils.extras import require

    av = require("av", "video", f"reading the video '{path}' (or pass a folder of its frames)")
    with av.open(path) as container:
        frames = [np.asarray(f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    if not frames:
        raise ValueError(f"No video frames in {path}")
    return frames


def write_mask(path, array):
    from PIL import Image

    from cosnet_tf.utils.atomic import atomic_output_path

    with atomic_output_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")


def run_predict(args):
    import numpy as np

    from cosnet_tf.serving.client import connect, iter_segment_video

    if args.refs < 0:
        raise ValueError(f"--refs must be >= 0, got {args.refs}")
    frames = read_frames(args.input)
    os.makedirs(args.out, exist_ok=True)
    client = connect(args.server, args.model_name, rest=args.rest, version=args.version, timeout=args.timeout)
    count = 0
    try:
        for index, probabilities in enumerate(
            iter_segment_video(client, frames, num_references=args.refs, encode_batch_size=args.batch_size,
                               sampling=args.sampling, seed=args.seed)
        ):
            if args.probabilities:
                image = np.rint(np.clip(probabilities, 0, 1) * 255).astype(np.uint8)
            else:
                image = np.where(probabilities > args.threshold, 255, 0).astype(np.uint8)
            write_mask(os.path.join(args.out, f"{index:05d}.png"), image)
            count += 1
    finally:
        client.close()
    print(f"wrote {count} masks to {args.out} ({min(args.refs, len(frames))} references per frame)")
