"""Training throughput (pairs/s) and peak memory of the `mobilenetv2` preset, with the input pipeline alone beside it.

    python benchmarks/training_throughput.py [--davis ../shared/data/davis2016-dev] [--size 256 256] [--batch-size 4]
        [--replicas R] [--dtype-policy mixed_bfloat16] [--jit-compile]
    python benchmarks/training_throughput.py --config training/configs/recurrence.toml \
        --davis runs/recurrence-data-128 [--dtype-policy mixed_bfloat16]

Defaults are the shipped model's training settings (output stride 16, 256x256, batch 4,
video pairs). With --config, a training config's own network, recipe, size, batch, optimizer
and data instead (--davis then replaces its davis_root, which a config with a [benchmark]
section writes first if absent, as `cosnet train` does; its initial_weights are not loaded,
which does not change the time of a step). Without --config, falls back to synthetic videos
when the DAVIS folder is absent. Prints:
pipeline-only pairs/s, training pairs/s (model.fit steps, after warm-up), seconds per step,
and the process's peak resident memory. With --replicas R > 1 the step runs under a
MirroredStrategy over R logical CPUs (the global batch split between them, as `cosnet train
--strategy mirrored --devices /cpu:0 ... /cpu:R-1` does), and it also prints the time of one
all-reduce of every trainable weight's gradient and its share of a step.
"""
import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script without installing
    sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from cosnet_tf.data import DavisDataset, SyntheticVideoGenerator, make_frame_pair_dataset  # noqa: E402
from cosnet_tf.training import COSNetTrainer, mix_streams  # noqa: E402
from cosnet_tf.training.distribution import distribute_training_stream, make_strategy  # noqa: E402
from cosnet_tf.utils.dtype_policy import resolve_dtype_policy  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--davis", default=None, help="default: ../shared/data/davis2016-dev, or --config's davis_root")
    parser.add_argument("--config", help="time this training config (`cosnet train --config`) instead of the defaults")
    parser.add_argument("--size", type=int, nargs=2, default=(256, 256))
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--output-stride", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--pipeline-batches", type=int, default=50, help="timed pipeline batches")
    parser.add_argument("--jit-compile", action="store_true", help="compile the train step with XLA")
    parser.add_argument(
        "--dtype-policy", default="float32", help="Keras dtype policy, e.g. mixed_bfloat16, or auto"
    )
    parser.add_argument("--replicas", type=int, default=1, help="mirrored replicas over logical CPUs")
    return parser.parse_args(argv)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def all_reduce_seconds(strategy, variables, repeats=10):
    """Seconds of one all-reduce (sum) of tensors shaped like `variables`, across the replicas."""

    @tf.function
    def reduce_once():
        def replica_fn():
            context = tf.distribute.get_replica_context()
            return context.all_reduce("sum", [tf.ones(v.shape, v.dtype) for v in variables])

        return strategy.run(replica_fn)

    reduce_once()  # trace
    start = time.perf_counter()
    for _ in range(repeats):
        reduce_once()
    return (time.perf_counter() - start) / repeats


def main(argv=None):
    args = parse_args(argv)
    # First: logical CPUs can only be set up before TensorFlow runs anything.
    strategy = make_strategy("mirrored", [f"/cpu:{i}" for i in range(args.replicas)]) if args.replicas > 1 \
        else tf.distribute.get_strategy()
    args.dtype_policy = resolve_dtype_policy(args.dtype_policy)[0]
    if args.config:
        from cosnet_tf.training.run import build_datasets, build_trainer, write_benchmark
        from cosnet_tf.training.run_config import TrainConfig

        config = TrainConfig.from_file(args.config, **({"davis_root": args.davis} if args.davis else {}))
        config.initial_weights = None
        config.dtype_policy = args.dtype_policy  # build_trainer builds under the config's policy
        write_benchmark(config)  # a config with a [benchmark] writes its data first, as `cosnet train` does
        args.size, args.batch_size = config.input_size, config.batch_size
        source = f"{config.davis_root} ({args.config})"
        label = f"its network ({config.model.get('preset')})"

        def training_stream(strategy=None):
            return build_datasets(config, strategy=strategy)[0]
    else:
        davis = args.davis or str(REPO_ROOT.parent / "shared" / "data" / "davis2016-dev")
        if Path(davis).exists():
            videos, source = DavisDataset(davis), davis
        else:
            root = SyntheticVideoGenerator(num_sequences=8, num_frames=20, image_size=(240, 427)).write_davis(
                tempfile.mkdtemp()
            )
            videos, source = DavisDataset(root), f"synthetic videos ({root})"
        label = f"mobilenetv2, output stride {args.output_stride}"

        def make_stream(batch_size, seed):
            return mix_streams(make_frame_pair_dataset(videos, tuple(args.size), batch_size, seed=seed))

        def training_stream(strategy=None):
            if strategy is None:
                return make_stream(args.batch_size, 0)
            return distribute_training_stream(strategy, make_stream, args.batch_size, seed=0)

    iterator = iter(training_stream())
    for _ in range(3):
        next(iterator)
    start = time.perf_counter()
    for _ in range(args.pipeline_batches):
        next(iterator)
    pipeline = args.pipeline_batches * args.batch_size / (time.perf_counter() - start)
    rss_after_pipeline = peak_rss_mib()

    keras.config.set_dtype_policy(args.dtype_policy)
    with strategy.scope():
        if args.config:
            trainer = build_trainer(config)  # compiled with the config's optimizer
            trainer.jit_compile = args.jit_compile  # read when the step is traced, at the first fit
        else:
            trainer = COSNetTrainer.from_preset(
                "mobilenetv2", backbone_config={"output_stride": args.output_stride}
            )
            trainer.compile(
                optimizer=keras.optimizers.SGD(1e-3, momentum=0.9, weight_decay=5e-4), jit_compile=args.jit_compile
            )
    stream = training_stream(strategy)
    trainer.fit(stream, steps_per_epoch=3, epochs=1, verbose=0)  # trace and warm up
    start = time.perf_counter()
    trainer.fit(stream, steps_per_epoch=args.steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    training = args.steps * args.batch_size / seconds

    print(f"data: {source}; {label}, "
          f"{args.size[0]}x{args.size[1]}, batch {args.batch_size} pairs, {os.cpu_count()} CPUs, "
          f"dtype policy {args.dtype_policy}, jit_compile {args.jit_compile}, "
          f"{strategy.num_replicas_in_sync} replica(s)")
    print(f"input pipeline alone : {pipeline:8.1f} pairs/s")
    print(f"training (model.fit) : {training:8.2f} pairs/s  ({seconds / args.steps:.3f} s/step)")
    print(f"pipeline headroom    : {pipeline / training:8.1f}x faster than training needs")
    if strategy.num_replicas_in_sync > 1:
        reduce_seconds = all_reduce_seconds(strategy, trainer.trainable_variables)
        print(f"all-reduce of grads  : {reduce_seconds:8.3f} s  ({100 * reduce_seconds * args.steps / seconds:.1f}% of a step)")
    print(f"peak memory (RSS)    : {peak_rss_mib():8.0f} MiB  (after the pipeline alone: {rss_after_pipeline:.0f} MiB)")


if __name__ == "__main__":
    main()
