"""Keras Tuner searches over COSNet's ablation axes, scored by real video segmentation J.

Training-time axes (co-attention variant, learning rate, lambda of Eq. 12,
input size, ...) are Keras Tuner hyperparameters of :class:`COSNetHyperModel`;
test-time axes (N, fusion, sampling: the paper's Tables 1 and 2) are an
:class:`EvaluationGrid` scored on each trained model without retraining.

    from cosnet_tf.tuning import TuneConfig, run_search
    report, paths = run_search(TuneConfig.from_file("training/configs/tune_synthetic.toml"))
    print(report.table1())

or ``cosnet tune --config training/configs/tune_synthetic.toml``.
"""
import importlib

# Imported on first use (PEP 562): Keras Tuner is an extra ("tune") that only the searches need.
_EXPORTS = {
    "AblationReport": "ablation_report",
    "COSNetHyperModel": "cosnet_hypermodel",
    "TRAINING_AXES": "cosnet_hypermodel",
    "EvaluationGrid": "cosnet_tf.evaluation.video_j_evaluator",
    "OBJECTIVE": "cosnet_tf.evaluation.video_j_evaluator",
    "setting_metric": "cosnet_tf.evaluation.video_j_evaluator",
    "prepare_synthetic_data": "search",
    "run_search": "search",
    "TUNERS": "tune_config",
    "TuneConfig": "tune_config",
    "make_tuner": "tuner_factory",
    "VideoJCallback": "video_j_callback",
    "VideoJEvaluator": "cosnet_tf.evaluation.video_j_evaluator",
}


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cosnet_tf.tuning' has no attribute {name!r}")
    module = _EXPORTS[name]
    return getattr(importlib.import_module(module if "." in module else f"cosnet_tf.tuning.{module}"), name)


__all__ = [
    "AblationReport",
    "COSNetHyperModel",
    "EvaluationGrid",
    "OBJECTIVE",
    "TRAINING_AXES",
    "TUNERS",
    "TuneConfig",
    "VideoJCallback",
    "VideoJEvaluator",
    "make_tuner",
    "prepare_synthetic_data",
    "run_search",
    "setting_metric",
]
