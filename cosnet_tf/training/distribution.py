"""Training on several devices and hosts with `tf.distribute`.

`cosnet train --strategy` (the `strategy` key of a config) picks one of:

* ``"none"``: the default strategy, one device;
* ``"mirrored"``: `MirroredStrategy`, one replica per local GPU (or per entry of
  `devices`, e.g. ``["/gpu:0", "/gpu:1"]``; ``"/cpu:K"`` entries split this
  machine's CPU into logical devices, for tests and benchmarks);
* ``"multi-worker"``: `MultiWorkerMirroredStrategy`, configured from the
  ``TF_CONFIG`` environment variable of each worker process;
* ``"auto"`` (the default): mirrored when more than one GPU is visible, else none.

The model, its optimizer and metrics are built under the strategy's scope, and
`model.fit` runs `COSNetTrainer`'s steps on every replica (see its
`make_train_function` for why the still-image and video steps are separate).
"""
import os
import re

# TensorFlow is imported where a strategy is made: TrainConfig declares its choices from
# STRATEGIES, and `cosnet --help` must not start TensorFlow.
STRATEGIES = ("auto", "none", "mirrored", "multi-worker")


def _logical_cpus(devices):
    """Splits the physical CPU into as many logical devices as `devices` names (before TF starts)."""
    import tensorflow as tf

    indices = [int(m.group(1)) for d in devices if (m := re.fullmatch(r"/?(?:device:)?cpu:(\d+)", d.lower()))]
    if not indices:
        return
    wanted = max(indices) + 1
    cpu = tf.config.list_physical_devices("CPU")[0]  # (listing logical devices would start the runtime)
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * wanted)
    except RuntimeError as error:  # already started: fine if it has enough logical CPUs
        if len(tf.config.list_logical_devices("CPU")) >= wanted:
            return
        raise RuntimeError(
            f"devices {list(devices)} need {wanted} logical CPUs, and TensorFlow has already started "
            "with fewer: choose the strategy before anything else runs"
        ) from error


def make_strategy(name="auto", devices=None):
    """The `tf.distribute` strategy called `name` (one of `STRATEGIES`).

    Example:

    >>> make_strategy("none").num_replicas_in_sync
    1
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}.")
    if devices and name not in ("mirrored", "auto"):
        raise ValueError(f"devices are chosen only with the mirrored strategy, not {name!r}.")
    if name == "auto":
        name = "mirrored" if devices or len(tf.config.list_physical_devices("GPU")) > 1 else "none"
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = list(devices or [])
        _logical_cpus(devices)
        return tf.distribute.MirroredStrategy(devices=devices or None)
    if not os.environ.get("TF_CONFIG"):
        raise ValueError(
            "strategy 'multi-worker' reads the cluster from the TF_CONFIG environment variable, which "
            "is not set (docs/distributed.md has an example)."
        )
    return tf.distribute.MultiWorkerMirroredStrategy()


def worker_role(strategy):
    """(is_chief, worker index) of this process: the chief is the only one that writes a run's files.

    A chief task when the cluster has one, else worker 0 (TensorFlow's rule).
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True, 0
    task_type, task_id = resolver.task_type, int(resolver.task_id or 0)
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief)
    return chief, task_id


def per_replica_batch_size(strategy, global_batch_size):
    """`global_batch_size` / replicas; refuses a global batch that does not divide evenly."""
    replicas = strategy.num_replicas_in_sync
    if global_batch_size % replicas:
        raise ValueError(
            f"batch_size {global_batch_size} (the global batch) must be a multiple of the "
            f"{replicas} replicas, so every replica gets the same number of samples."
        )
    return global_batch_size // replicas


def distribute_training_stream(strategy, make_stream, global_batch_size, seed):
    """The training stream of every worker, split between its replicas.

    `make_stream(batch_size, seed)` builds one worker's endless stream (see
    `run.build_datasets`). Each worker draws its own pairs (seed + its input
    pipeline id) in batches of per-replica batch x local replicas, and each
    such batch is cut into consecutive per-replica parts (`rebatch`): the
    parts of one batch go to the worker's replicas together, so every replica
    of a step gets the same stream (video pairs or still images).
    """
    per_replica = per_replica_batch_size(strategy, global_batch_size)
    if strategy.num_replicas_in_sync == 1:
        return make_stream(global_batch_size, seed)

    def dataset_fn(context):
        local_replicas = context.num_replicas_in_sync // context.num_input_pipelines
        stream = make_stream(per_replica * local_replicas, seed + 1_000_033 * context.input_pipeline_id)
        return stream.rebatch(per_replica)

    return strategy.distribute_datasets_from_function(dataset_fn)
