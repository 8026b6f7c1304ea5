"""`cosnet serve`: a local TF Serving stand-in (gRPC PredictionService, optional REST)."""
from cosnet_tf.cli.flags import HelpFormatter, at_least


def add_serve_parser(sub):
    p = sub.add_parser(
        "serve",
        formatter_class=HelpFormatter,
        help="serve exported SavedModels over gRPC (and REST) like TF Serving, for development",
        description="Serve saved_models/NAME (numeric version folders; the latest by default) with "
        "TF Serving's gRPC PredictionService API (and optionally its REST :predict API). "
        "For production use the tensorflow/serving container; see docs/serving.md.",
    )
    p.add_argument(
        "--model-dir",
        required=True,
        action="append",
        help="model folder saved_models/NAME holding version folders (repeat for several models)",
    )
    p.add_argument("--model-name", help="served name (default: the folder's name; one model only)")
    p.add_argument("--port", type=int, default=8500, help="gRPC port (0: any free port)")
    p.add_argument("--rest-port", type=int, help="also serve REST on this port (TF Serving uses 8501)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (0.0.0.0: all)")
    p.add_argument("--workers", type=at_least(1), default=8, help="request threads")
    p.set_defaults(func=run_serve)


def run_serve(args):
    import signal
    import threading

    from cosnet_tf.serving.server import ModelServer

    server = ModelServer(
        args.model_dir,
        model_name=args.model_name,
        host=args.host,
        port=args.port,
        rest_port=args.rest_port,
        max_workers=args.workers,
    ).start()
    print(server.describe(), flush=True)
    stopping = threading.Event()

    def stop(signum, frame):
        stopping.set()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        server.stop()
        print("server stopped", flush=True)
