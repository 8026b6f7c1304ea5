"""The Keras Tuner HyperModel of COSNet's ablation axes (the paper's Tables 1 and 2)."""
import dataclasses
import json
import os
import time
import warnings

import keras

from cosnet_tf.utils.extras import require

keras_tuner = require("keras_tuner", "tune", "Keras Tuner searches (cosnet tune)")

from cosnet_tf.evaluation.video_j_evaluator import EvaluationGrid, VideoJEvaluator
from cosnet_tf.layers import COATTENTION_VARIANTS
from cosnet_tf.training.callbacks import NaNGuard, ResumableCheckpoint
from cosnet_tf.training.run import build_datasets, build_trainer
from cosnet_tf.training.run_config import TrainConfig, model_coattention, model_keys, model_section, variant_settings
from cosnet_tf.training.settings import default_of, renamed
from cosnet_tf.tuning.video_j_callback import VideoJCallback
from cosnet_tf.utils.atomic import atomic_write_bytes


def training_axes():
    """{axis: where a trial's value goes}: every axis a search may vary, from the settings' declarations.

    * a tunable `TrainConfig` field (`tunable=True` in its declaration): ``(field,)``;
    * a setting of the [model] section (`COSNet.from_preset`'s arguments, e.g. ``coattention``):
      ``("model", key)``;
    * a setting a co-attention layer declares in its ``TUNABLE`` class attribute (e.g. the
      symmetric variant's ``orthogonality_weight``, lambda of Eq. 12):
      ``("model", "coattention_config", key)``, set only in trials of a variant that declares it.
    """
    axes = {f.name: (f.name,) for f in dataclasses.fields(TrainConfig) if f.metadata["tunable"]}
    axes.update({key: ("model", key) for key in model_keys()})
    axes.update({key: ("model", "coattention_config", key) for key in variant_settings()})
    return axes


# Training-time axes a search may vary: axis -> its path in the TrainConfig (see `training_axes`).
TRAINING_AXES = training_axes()
_FLOAT_KEYS = {"min", "max", "sampling", "step"}


def _axis_default(name):
    """An axis's default value (None where it has none), which tells whether a range fits it."""
    path = TRAINING_AXES[name]
    if len(path) == 1:
        return default_of(next(f for f in dataclasses.fields(TrainConfig) if f.name == name))
    if len(path) == 2:
        return model_keys()[name]
    return 0.0  # a variant's declared setting: a number


def _declare(hp, name, spec):
    """One hyperparameter from its config: a list (Choice) or {min, max[, sampling, step]} (Float)."""
    if isinstance(spec, dict):
        unknown = set(spec) - _FLOAT_KEYS
        if unknown or not {"min", "max"} <= set(spec):
            raise ValueError(f"space.{name}: a range needs min and max (and optionally sampling, step); "
                             f"got {spec}")
        default = _axis_default(name)
        if isinstance(default, bool) or not isinstance(default, (int, float)):
            raise ValueError(f"space.{name} takes a list of values, not a range")
        return hp.Float(name, float(spec["min"]), float(spec["max"]), step=spec.get("step"),
                        sampling=spec.get("sampling", "linear"))
    values = list(spec) if isinstance(spec, (list, tuple)) else [spec]
    if not values:
        raise ValueError(f"space.{name} is an empty list")
    if len(values) == 1:
        return hp.Fixed(name, values[0])
    return hp.Choice(name, values, ordered=all(isinstance(v, (int, float)) for v in values))


def check_space(space, where="space"):
    """The space as a dict (old axis names renamed), or a ValueError naming an axis that is not a training axis."""
    space = dict(space or {})
    for old, new in renamed(TrainConfig).items():
        if old in space:
            warnings.warn(f"{where}: axis {old!r} is now called {new!r}", FutureWarning, stacklevel=2)
            space[new] = space.pop(old)
    unknown = sorted(set(space) - set(TRAINING_AXES))
    if unknown:
        raise ValueError(f"space: unknown axis {unknown}; the training axes are {sorted(TRAINING_AXES)} "
                         "(N, fusion and sampling are test-time axes: set them under [evaluation])")
    return space


def _trial_dir(callbacks):
    """The tuner's folder of this trial, from the checkpoint callback it passes to `fit`.

    Every Keras Tuner `Tuner` adds a best-epoch checkpoint writing
    ``<trial dir>/checkpoint.weights.h5``; its folder is where a trial keeps
    what it needs to resume, so stock tuners need no subclass.
    """
    for callback in callbacks:
        path = getattr(callback, "filepath", None)
        if isinstance(path, str) and os.path.basename(path).startswith("checkpoint"):
            return os.path.dirname(path)
    return None


class COSNetHyperModel(keras_tuner.HyperModel):
    """COSNet's ablation and tuning space for Keras Tuner, scored by validation video J.

    Training-time axes are hyperparameters: the co-attention variant
    (``vanilla``, ``symmetric``, ``channel``, or ``none`` for the DeepLabv3
    baseline), learning rate, lambda of Eq. 12, input size, weight decay,
    summary dropout. ``build(hp)`` gives a compiled `COSNetTrainer`;
    ``fit(hp, model)`` trains it with ``model.fit`` (the custom
    ``train_step`` of `COSNetTrainer`, data from ``base_config``) and then
    segments the held-out sequences for real with every test-time setting of
    ``grid`` (N, fusion, sampling: no retraining, one encoding per video).
    ``fit`` returns all those J values; the objective is ``video_J``, the J
    of the grid's default setting (N = 5, attention fusion, uniform sampling).

    A trial interrupted mid-training resumes from its last checkpoint (every
    ``checkpoint_every`` steps, in the trial's folder) when the search is run
    again; a finished trial is not run again.

    Args:
        base_config: a `TrainConfig`: data, preset, steps and every setting
            the space does not vary. Its ``val_sequences`` / ``val_split``
            are the held-out sequences the trials are scored on.
        space: ``{axis: [values]}`` (a grid / Choice; one value = fixed) or
            ``{axis: {"min", "max", "sampling"}}`` (Float, for Bayesian
            optimisation or Hyperband); axes from ``TRAINING_AXES`` (old setting
            names, e.g. ``image_size``, are read with a warning).
        grid: the :class:`EvaluationGrid` of test-time settings.
        eval_every: score the held-out videos every K epochs (of
            ``checkpoint_every`` steps) besides the last one; None: only at
            the end (Hyperband needs a score at each round's end, which is
            the last epoch of its ``fit``).
        evaluator: a ready :class:`VideoJEvaluator` (default: built from
            ``base_config``'s held-out sequences).

    Example (with a tuner; ``cosnet tune`` does this from a config file):

        hypermodel = COSNetHyperModel(config, {"coattention": ["vanilla", "none"]})
        tuner = keras_tuner.GridSearch(hypermodel, objective=keras_tuner.Objective("video_J", "max"),
                                       directory="runs/tune", project_name="ablation")
        tuner.search()
    """

    def __init__(self, base_config, space=None, grid=None, eval_every=None, evaluator=None, **kwargs):
        super().__init__(**kwargs)
        space = check_space(space)
        self.base_config = base_config
        self.space = space
        self.grid = grid or EvaluationGrid()
        self.eval_every = eval_every
        self._evaluator = evaluator
        # Fails now, not after the first trial, on a bad space.
        self.declare_hyperparameters(keras_tuner.HyperParameters())

    @property
    def evaluator(self):
        if self._evaluator is None:
            config = self.base_config
            dataset = config.held_out_videos()
            if dataset is None:
                raise ValueError("the search needs held-out sequences: set val_sequences, val_split or val_davis_root")
            self._evaluator = VideoJEvaluator(dataset, self.grid, batch_size=config.batch_size,
                                              seed=config.seed)
        return self._evaluator

    def declare_hyperparameters(self, hp):
        for name, spec in self.space.items():
            _declare(hp, name, spec)

    def trial_config(self, hp):
        """The `TrainConfig` of a trial: ``base_config`` with the trial's values."""
        self.declare_hyperparameters(hp)
        changes, model, variant_values = {}, dict(self.base_config.model), {}
        for name in self.space:
            value, path = hp.get(name), TRAINING_AXES[name]
            if len(path) == 3:
                variant_values[name] = value
            elif len(path) == 2:
                model[name] = value
            else:
                default = getattr(self.base_config, name)
                # A square side for a (height, width) setting.
                changes[name] = (int(value),) * len(default) if isinstance(default, tuple) else value
        declared = getattr(COATTENTION_VARIANTS.get(model_coattention(model_section(model))), "TUNABLE", {})
        settings = {k: v for k, v in variant_values.items() if k in declared}
        if settings:  # only the variant whose layer declares a setting gets it
            model["coattention_config"] = {**model.get("coattention_config", {}), **settings}
        return dataclasses.replace(self.base_config, model=model, **changes)

    def build(self, hp):
        return build_trainer(self.trial_config(hp))

    def fit(self, hp, model, *args, callbacks=None, epochs=None, initial_epoch=0, verbose=None, **kwargs):
        """Trains ``model`` for the trial, then scores it on held-out videos; returns the metrics."""
        config = self.trial_config(hp)
        callbacks = list(callbacks or [])
        trial_dir = _trial_dir(callbacks)
        total_epochs = config.steps // config.checkpoint_every
        epochs = total_epochs if epochs is None else int(epochs)
        checkpoint = ResumableCheckpoint(os.path.join(trial_dir, "resume")) if trial_dir else None
        state = checkpoint.restore(model) if checkpoint else None
        if state:
            initial_epoch = max(int(initial_epoch), int(state["epoch"]))
            if config.verbose:
                print(f"resuming trial {trial_dir} at step {state['step']} (epoch {initial_epoch}/{epochs})")
        scorer = VideoJCallback(self.evaluator, every=self.eval_every or epochs, final_epoch=epochs)
        nan_guard = NaNGuard(checkpoint.directory if checkpoint else None)
        fit_callbacks = [nan_guard, scorer]
        if trial_dir:
            fit_callbacks.append(keras.callbacks.CSVLogger(os.path.join(trial_dir, "log.csv"), append=True))
        # The tuner's own callbacks (its best-epoch checkpoint reads video_J), then ours last: an
        # epoch a checkpoint calls done is scored and logged already.
        fit_callbacks += callbacks + ([checkpoint] if checkpoint else [])
        started = time.perf_counter()
        if initial_epoch < epochs:
            train_data, val_data = build_datasets(config, epoch_offset=initial_epoch)
            model.fit(
                train_data,
                epochs=epochs,
                initial_epoch=initial_epoch,
                steps_per_epoch=config.checkpoint_every,
                validation_data=val_data,
                shuffle=False,  # the pair stream is drawn at random already
                callbacks=fit_callbacks,
                # The tuner's verbose=0 silences the trial; otherwise the config decides.
                verbose=0 if verbose == 0 else config.verbose,
            )
        if nan_guard.message:
            raise keras_tuner.errors.FailedTrialError(nan_guard.message)
        results = scorer.results
        if results is None:  # resumed after the last epoch: nothing left to train
            results = self.evaluator(model)
        # train_seconds: this run's fit, held-out scoring included (a resumed trial: since the resume).
        results = dict(results, steps=int(model.optimizer.iterations.numpy()),
                       train_seconds=time.perf_counter() - started)
        if trial_dir:
            atomic_write_bytes(os.path.join(trial_dir, "video_j.json"),
                               json.dumps(results, indent=2).encode())
        return results
