"""`cosnet predict`: segment videos through a model server (TF Serving or `cosnet serve`)."""
from cosnet_tf.cli.flags import HelpFormatter, add_alias, add_reference_arguments, add_switch, at_least
from cosnet_tf.cli.video_outputs import add_video_output_arguments


def add_predict_parser(sub):
    p = sub.add_parser(
        "predict",
        formatter_class=HelpFormatter,
        help="segment a video through TF Serving (or cosnet serve) and write PNG masks",
        description="Segment every frame of INPUT (a folder of frames, a video file or a DAVIS root, as "
        "for `cosnet segment`) through a served COSNet: frames are read as they are needed, each is "
        "encoded once, then segmented against the N reference frames `cosnet segment` would pick. "
        "Writes what `cosnet segment` writes (OUT/%05d.png, or OUT/<sequence>/%05d.png for a DAVIS "
        "root), each file atomically; the masks equal `cosnet segment`'s for the same model and N.",
    )
    p.add_argument("input", help="frame folder, video file (the [video] extra) or DAVIS root")
    p.add_argument("--server", required=True, help="HOST:PORT of the server (gRPC 8500, REST 8501)")
    p.add_argument("--model-name", required=True, help="the served model's name")
    p.add_argument("--out", required=True, help="output folder")
    add_reference_arguments(p)
    add_switch(p, "--rest", help="use the REST API instead of gRPC")
    p.add_argument("--model-version", type=at_least(1), help="the served model's version (default: the latest)")
    add_alias(p, "--version", "--model-version")
    p.add_argument("--batch-size", type=at_least(1), default=4, help="frames per encode request")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    add_video_output_arguments(p)
    p.set_defaults(func=run_predict)


def run_predict(args):
    from cosnet_tf.cli.video_outputs import open_sources, write_video_outputs
    from cosnet_tf.serving.client import connect, iter_segment_video

    sources = open_sources(args)  # a bad input fails before any request
    client = connect(args.server, args.model_name, rest=args.rest, version=args.model_version, timeout=args.timeout)

    def iter_probabilities(source):
        probabilities = iter_segment_video(client, source, num_references=args.refs,
                                           encode_batch_size=args.batch_size, sampling=args.sampling,
                                           seed=args.seed)
        for index, probability in enumerate(probabilities):
            yield index, probability, None

    try:
        count = write_video_outputs(args, sources, iter_probabilities)
    finally:
        client.close()
    print(f"wrote {count} masks of {len(sources)} video(s) to {args.out} (N = {args.refs}, {args.sampling})")
