"""A whole training run with `model.fit`: data, model, optimizer, checkpoints, logs."""
import dataclasses
import hashlib
import json
import os
import shutil
import warnings

import keras
import numpy as np
import tensorflow as tf

from cosnet_tf.data import (
    AugmentationConfig,
    SaliencyDataset,
    make_composite_dataset,
    make_frame_pair_dataset,
    make_saliency_dataset,
)
from cosnet_tf.data.benchmark_data import write_benchmark_once
from cosnet_tf.evaluation.video_j_evaluator import EvaluationGrid, VideoJEvaluator
from cosnet_tf.models.cosnet import COSNet, read_saved_cosnet
from cosnet_tf.training.callbacks import BestModelSaver, NaNGuard, ResumableCheckpoint
from cosnet_tf.training.cosnet_trainer import COSNetTrainer
from cosnet_tf.training.distribution import distribute_training_stream, make_strategy, worker_role
from cosnet_tf.training.partwise_adamw import PartwiseAdamW
from cosnet_tf.training.streams import mix_streams
from cosnet_tf.utils.atomic import atomic_output_path, atomic_write_bytes
from cosnet_tf.utils.dtype_policy import emulated_bf16_warning, global_dtype_policy, resolve_dtype_policy


def build_datasets(config, epoch_offset=0, strategy=None):
    """(training stream, validation pairs or None) for `config`.

    `epoch_offset` reseeds the training stream after a resume so the pairs
    drawn after a restart are new ones, not a replay of the first epochs.
    Under a `tf.distribute` strategy with several replicas the training stream
    is split between them (`distribution.distribute_training_stream`);
    `config.batch_size` is the global batch.
    """
    train_videos = config.training_videos()
    augmentation = config.augmentation_config()
    saliency = None
    if config.saliency_images:
        saliency = SaliencyDataset(config.saliency_images, config.saliency_masks)
    elif config.stills_from_training_videos:
        saliency = SaliencyDataset.from_videos(train_videos)

    def make_stills(batch_size, seed):
        if saliency is not None:
            return make_saliency_dataset(saliency, config.input_size, batch_size, augmentation=augmentation,
                                         seed=seed)
        if config.composite_stills != "off":
            return make_composite_dataset(train_videos, config.input_size, batch_size,
                                          label=config.composite_stills, augmentation=augmentation, seed=seed)
        return None

    def make_stream(batch_size, seed):
        pairs = make_frame_pair_dataset(
            train_videos, config.input_size, batch_size, augmentation=augmentation, seed=seed,
            paste_distractors=config.paste_distractors, references=config.training_references,
        )
        stills = make_stills(batch_size, seed)
        return mix_streams(pairs, stills, config.video_steps, config.image_steps)

    seed = config.seed + 1_000_003 * epoch_offset
    train = distribute_training_stream(strategy or tf.distribute.get_strategy(), make_stream, config.batch_size, seed)
    val = None
    val_videos = config.held_out_videos()
    if val_videos is not None:
        val = make_frame_pair_dataset(
            val_videos,
            config.input_size,
            config.batch_size,
            augmentation=None,
            seed=config.seed,
            shuffle=False,
            drop_remainder=False,
        )
        if config.val_batches:
            val = val.take(config.val_batches)
        # The same pairs at every validation: J is comparable across epochs.
        val = val.cache()
    return train, val


def build_trainer(config):
    model = dict(config.model)  # [model], unchanged: COSNet.from_preset's own arguments
    # Layers take the global policy when they are built: it is set for the construction only.
    # The inference models that `to_inference_model` builds (final.keras, best.keras) compute
    # in float32 from the same float32 weights. `cosnet train` and every `cosnet tune` trial
    # build here, so both warn when told to compute in a bf16 this machine would emulate.
    if warning := emulated_bf16_warning(config.dtype_policy):
        warnings.warn(warning, stacklevel=2)
    with global_dtype_policy(config.dtype_policy):
        trainer = COSNetTrainer.from_preset(
            model.pop("preset"),
            head_lr_multiplier=config.head_lr_multiplier,
            summary_dropout=config.summary_dropout,
            query_feature_dropout=config.query_feature_dropout,
            reference_path_only=config.reference_path_only,
            class_balance=config.class_balance,
            dice_weight=config.dice_weight,
            freeze_backbone_batch_norm=config.freeze_backbone_batch_norm,
            freeze_backbone=config.freeze_backbone,
            frozen_backbone_blocks=config.frozen_backbone_blocks,
            training_references=config.training_references,
            synchronized_batch_norm=config.synchronized_batch_norm,
            inference_size=config.input_size,
            inference_short_side=config.short_side,
            **model,
        )
    if config.initial_weights:
        load_initial_weights(trainer, config.initial_weights)
    schedule = keras.optimizers.schedules.PolynomialDecay(
        config.learning_rate, decay_steps=config.steps, end_learning_rate=0.0, power=config.decay_power
    )
    if config.optimizer == "adamw":
        # Adam normalises each weight's step by its gradient's running scale, so the heads'
        # 10x cannot be a gradient scale: PartwiseAdamW multiplies their learning rate.
        optimizer = PartwiseAdamW(schedule, weight_decay=config.weight_decay)
    else:
        optimizer = keras.optimizers.SGD(schedule, momentum=config.momentum, weight_decay=config.weight_decay)
    trainer.compile(optimizer=optimizer, run_eagerly=config.run_eagerly)
    return trainer


def load_initial_weights(trainer, path):
    """Copies the weights of the `.keras` COSNet at `path` into `trainer` (same network required).

    One difference is allowed: `trainer` may add the co-attention's recurrence
    gate (`coattention_config = {recurrence_gate = true}`) to a source without
    it. Its two weights then keep their initialisation, so a trained model can
    be fine-tuned with the gate.
    """
    try:
        source = read_saved_cosnet(path)
    except (FileNotFoundError, ValueError) as error:
        raise type(error)(f"initial_weights: {error}") from error
    # Weights are copied in order, so the two networks must be built alike, not only shaped alike.
    ours, theirs = COSNet.get_config(trainer), source.get_config()
    for key in ("coattention", "gate_bias", "head_filters", "head_depth"):
        if ours[key] != theirs[key]:
            raise ValueError(
                f"initial_weights: {path} is another network than [model] describes ({key} "
                f"{theirs[key]!r} there, {ours[key]!r} here)"
            )
    targets = trainer.weights
    if not _recurrence_gate_weights(source):  # a gate only ours has keeps its start
        added = {id(weight) for weight in _recurrence_gate_weights(trainer)}
        targets = [weight for weight in targets if id(weight) not in added]
    values = source.get_weights()
    if len(values) != len(targets):
        raise ValueError(f"initial_weights: {path} is another network than [model] describes "
                         f"({len(values)} weights there, {len(targets)} here)")
    for weight, value in zip(targets, values):
        if tuple(weight.shape) != value.shape:
            raise ValueError(f"initial_weights: {path} is another network than [model] describes "
                             f"(weight {weight.path}: shape {value.shape} there, {tuple(weight.shape)} here)")
    for weight, value in zip(targets, values):
        weight.assign(value)


def _recurrence_gate_weights(model):
    return () if model.coattention is None else model.coattention.recurrence_gate_weights


def weights_fingerprint(model):
    """A short hash of every weight's bytes: equal on every replica and worker of one run."""
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
    return digest.hexdigest()[:16]


def write_benchmark(config):
    """Writes `config.benchmark` (a synthetic DAVIS-layout set) to `davis_root` unless that folder exists."""
    if config.benchmark is None:
        return False
    settings = dict(config.benchmark)
    return write_benchmark_once(config.davis_root, settings, settings.pop("generator", "recurrence"))


def evaluate_videos(model, config):
    """Held-out J at each N of `config.video_eval_refs` (DAVIS-2016 protocol, `cosnet segment`'s loop)."""
    refs = config.video_eval_refs if model.coattention is not None else [0]
    grid = EvaluationGrid(
        refs=refs, fusions=["attention"], samplings=["uniform"],
        default={"refs": refs[-1], "fusion": "attention", "sampling": "uniform"},
    )
    scores = VideoJEvaluator(config.held_out_videos(), grid)(model)
    return {f"J_N{n}": scores[f"J_N{n}_attention_uniform"] for n in refs}


def train(config):
    """Runs (or resumes) the training run of `config` in `config.out`.

    Layout of the run folder:
        config.json          the settings
        checkpoint/          latest.weights.h5 + state.json, every checkpoint_every steps
        best.keras           the inference model with the best validation J (+ .json)
        final.keras          the inference model after the last step
        log.csv, tensorboard/

    Returns:
        A dict: the final step, the last logs, paths, and a NaN message if any.

    Under `config.strategy` (see `cosnet_tf.training.distribution`) the model is
    built under the strategy's scope and only the chief process writes the
    run folder (config, checkpoints, logs, models). Every worker restores from
    the chief's checkpoint, so a multi-worker run needs `out` on a file
    system all workers share; after a worker dies, restarting every worker
    resumes the run at the last checkpoint.
    """
    # First: a mirrored strategy over logical CPUs can only be set up before TensorFlow runs.
    strategy = make_strategy(config.strategy, config.devices)
    chief, _ = worker_role(strategy)
    if config.dtype_policy == "auto":  # config.json records what this machine trains in
        policy, why = resolve_dtype_policy("auto")
        config = dataclasses.replace(config, dtype_policy=policy)
        if config.verbose:
            print(f"dtype policy auto: {policy} ({why})")
    if chief and write_benchmark(config) and config.verbose:
        print(f"wrote the {config.benchmark.get('generator', 'recurrence')} benchmark to {config.davis_root}")
    if chief:
        os.makedirs(config.out, exist_ok=True)
        atomic_write_bytes(
            os.path.join(config.out, "config.json"), json.dumps(config.to_dict(), indent=2).encode()
        )
    with strategy.scope():
        trainer = build_trainer(config)
    checkpoint = ResumableCheckpoint(os.path.join(config.out, "checkpoint"))
    state = checkpoint.restore(trainer)
    initial_epoch = state["epoch"] if state else 0
    epochs = config.steps // config.checkpoint_every
    if state and config.verbose:
        print(f"resuming {config.out} at step {state['step']} (epoch {initial_epoch}/{epochs})")
    train_data, val_data = build_datasets(config, epoch_offset=initial_epoch, strategy=strategy)
    nan_guard = NaNGuard(checkpoint.directory)
    callbacks = [nan_guard]
    if chief:
        callbacks += [
            keras.callbacks.CSVLogger(os.path.join(config.out, "log.csv"), append=True),
            keras.callbacks.TensorBoard(os.path.join(config.out, "tensorboard"), update_freq=10),
        ]
        if val_data is not None:
            callbacks.append(BestModelSaver(os.path.join(config.out, "best.keras"), "val_J", "max"))
        # Last at each epoch end: what a checkpoint claims done is already logged and
        # saved, so a kill in between only repeats an epoch, never skips its records.
        callbacks.append(checkpoint)
    history = None
    if initial_epoch < epochs:
        history = trainer.fit(
            train_data,
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=config.checkpoint_every,
            validation_data=val_data,
            callbacks=callbacks,
            verbose=config.verbose,
            shuffle=False,  # the pair datasets shuffle themselves (and Keras warns otherwise)
        )
    final_path = os.path.join(config.out, "final.keras")
    video_j = None
    if nan_guard.message is None and chief:
        model = trainer.to_inference_model()
        with atomic_output_path(final_path) as tmp:
            model.save(tmp)
        if config.video_eval_refs and config.held_out_videos() is not None:
            try:
                video_j = evaluate_videos(model, config)
            except Exception as error:  # the trained model is safe; say how to retry
                raise RuntimeError(
                    f"held-out evaluation failed ({type(error).__name__}: {error}); training is complete "
                    f"and {final_path} is saved: run the same command again to retry the evaluation"
                ) from error
            atomic_write_bytes(
                os.path.join(config.out, "video_j.json"), json.dumps(video_j, indent=2).encode()
            )
            if config.verbose:
                print("held-out J: " + ", ".join(f"{k} {v:.3f}" for k, v in video_j.items()))
    step = int(trainer.optimizer.iterations.numpy())
    fingerprint = weights_fingerprint(trainer)
    if config.verbose:
        # Printed by every worker: equal fingerprints show the replicas stayed in sync.
        print(f"trained to step {step}; weights fingerprint {fingerprint}")
    return {
        "fingerprint": fingerprint,
        "video_J": video_j,
        "step": step,
        "logs": {k: v[-1] for k, v in history.history.items()} if history else {},
        "final": final_path if nan_guard.message is None else None,
        "best": os.path.join(config.out, "best.keras") if val_data is not None else None,
        "error": nan_guard.message,
    }


def train_stages(stages):
    """Runs (or resumes) the stages of a staged config in order; ends with the last stage's model.

    Args:
        stages: [(name, TrainConfig)] as `TrainConfig.stages_from_dict` makes them: each
            stage's `out` is `<folder>/<name>` and a later stage starts from the
            previous stage's `final.keras`.

    A stage whose `final.keras` exists is done and skipped; an interrupted
    stage resumes from its checkpoint. At the end `<folder>/final.keras` is
    the last stage's model (written atomically).

    Returns:
        `train`'s dict of the last stage run, with `final` the folder's final.keras
        and `stages` the stage names.
    """
    folder = os.path.dirname(os.path.normpath(stages[-1][1].out))
    result = None
    for name, config in stages:
        done = os.path.join(config.out, "final.keras")
        if os.path.exists(done):
            if config.verbose:
                print(f"stage {name}: done ({done})")
            continue
        if config.verbose:
            print(f"stage {name}: training in {config.out}")
        result = train(config)
        if result["error"]:
            return dict(result, stages=[n for n, _ in stages])
    final_path = os.path.join(folder, "final.keras")
    with atomic_output_path(final_path) as tmp:
        shutil.copyfile(os.path.join(stages[-1][1].out, "final.keras"), tmp)
    result = dict(result or {"error": None}, final=final_path, stages=[n for n, _ in stages])
    return result
