"""A Keras Tuner tuner for a `TuneConfig`."""
from cosnet_tf.utils.extras import require

keras_tuner = require("keras_tuner", "tune", "Keras Tuner searches (cosnet tune)")

from cosnet_tf.evaluation.video_j_evaluator import OBJECTIVE


def make_tuner(config, hypermodel, overwrite=False):
    """The Keras Tuner of ``config.tuner`` (stock classes), maximising ``video_J``.

    With ``overwrite=False`` (the default) an existing search in
    ``config.directory / config.project_name`` is reloaded: finished trials are
    kept and an interrupted one runs again, resuming from its checkpoint.
    """
    common = dict(
        hypermodel=hypermodel,
        objective=keras_tuner.Objective(OBJECTIVE, direction="max"),
        directory=config.directory,
        project_name=config.project_name,
        overwrite=overwrite,
        seed=config.seed,
    )
    if config.tuner == "grid":
        return keras_tuner.GridSearch(max_trials=config.max_trials, **common)
    if config.tuner == "random":
        return keras_tuner.RandomSearch(max_trials=config.max_trials, **common)
    if config.tuner == "bayesian":
        return keras_tuner.BayesianOptimization(max_trials=config.max_trials, **common)
    train = config.train
    return keras_tuner.Hyperband(
        max_epochs=train.steps // train.checkpoint_every, factor=config.hyperband_factor, **common
    )
