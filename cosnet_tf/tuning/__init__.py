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
from cosnet_tf.tuning.ablation_report import AblationReport
from cosnet_tf.tuning.cosnet_hypermodel import TRAINING_AXES, COSNetHyperModel
from cosnet_tf.tuning.evaluation_grid import OBJECTIVE, EvaluationGrid, setting_metric
from cosnet_tf.tuning.search import prepare_synthetic_data, run_search
from cosnet_tf.tuning.tune_config import TUNERS, TuneConfig
from cosnet_tf.tuning.tuner_factory import make_tuner
from cosnet_tf.tuning.video_j_callback import VideoJCallback
from cosnet_tf.tuning.video_j_evaluator import VideoJEvaluator

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
