"""The settings of a `cosnet tune` search, composed from named parts (a TOML/JSON file).

This module does not import TensorFlow or Keras Tuner at load time (`cosnet --help`
builds the tune parser from `TUNERS`); the grid and the space are checked when a
config is made.
"""
import dataclasses
import os
from typing import Any, Optional

from cosnet_tf.training.run_config import TrainConfig
from cosnet_tf.training.settings import reject_unknown
from cosnet_tf.training.settings_file import read_config_file

TUNERS = ("grid", "random", "bayesian", "hyperband")


def _default_grid():
    from cosnet_tf.evaluation.video_j_evaluator import EvaluationGrid  # TensorFlow: when a config is made

    return EvaluationGrid()


def _reject_unknown(values, dataclass, where, what):
    reject_unknown(values, {f.name for f in dataclasses.fields(dataclass)}, where, what)


@dataclasses.dataclass
class TuneConfig:
    """A search: which tuner, over which space, trained how, scored how.

    A config file has top-level search settings and four tables, each a part
    of its own: ``[train]`` (any `TrainConfig` field: data, steps, ..., and
    the model in ``[train.model]``), ``[space]`` (training axes of `COSNetHyperModel`),
    ``[evaluation]`` (the test-time `EvaluationGrid`) and, optionally,
    ``[synthetic]`` (a `SyntheticVideoGenerator` whose videos are written to
    ``train.davis_root`` first when that folder does not exist).

    Attributes:
        tuner: ``"grid"`` (every combination: ablation tables), ``"random"``,
            ``"bayesian"`` (Bayesian optimisation) or ``"hyperband"``.
        directory, project_name: where Keras Tuner keeps the search (the
            search resumes from there when run again).
        max_trials: trials to run (None: the whole grid; required otherwise).
        seed: the tuner's seed.
        eval_every: score held-out videos every K epochs too (None: at the end).
        hyperband_factor: Hyperband's reduction factor (its maximum epochs
            are ``train.steps / train.checkpoint_every``).
        report_dir: where the tables and plot go (default:
            ``<directory>/<project_name>/report``).
        reference_coattention: the variant of the tables' full-model rows
            (default: ``symmetric`` when searched, as in the paper, else the best).
        title: the dataset's name in the report (default: ``project_name``).
    """

    train: TrainConfig
    space: dict = dataclasses.field(default_factory=dict)
    evaluation: Any = dataclasses.field(default_factory=_default_grid)  # an EvaluationGrid
    synthetic: Optional[dict] = None
    tuner: str = "grid"
    directory: str = "runs/tune"
    project_name: str = "ablation"
    max_trials: Optional[int] = None
    seed: int = 0
    eval_every: Optional[int] = None
    hyperband_factor: int = 3
    report_dir: Optional[str] = None
    reference_coattention: Optional[str] = None
    title: Optional[str] = None

    def __post_init__(self):
        if self.tuner not in TUNERS:
            raise ValueError(f"tuner must be one of {TUNERS}, got {self.tuner!r}")
        if self.tuner in ("random", "bayesian") and self.max_trials is None:
            raise ValueError(f"a {self.tuner} search needs max_trials")
        if self.max_trials is not None and int(self.max_trials) < 1:
            raise ValueError(f"max_trials must be >= 1, got {self.max_trials}")
        from cosnet_tf.tuning.cosnet_hypermodel import check_space  # needs keras_tuner (the tune extra)

        self.space = check_space(self.space)
        if self.tuner == "grid":
            ranges = [name for name, spec in self.space.items() if isinstance(spec, dict) and "step" not in spec]
            if ranges:
                raise ValueError(f"space: a grid search needs lists (or ranges with a step); {ranges} "
                                 "are continuous ranges: use tuner = \"bayesian\", \"random\" or \"hyperband\"")
        if self.title is None:
            self.title = self.project_name
        if self.report_dir is None:
            self.report_dir = os.path.join(self.directory, self.project_name, "report")

    @classmethod
    def from_dict(cls, values, where="config"):
        from cosnet_tf.evaluation.video_j_evaluator import EvaluationGrid  # TensorFlow: when a config is made

        values = dict(values)
        _reject_unknown(values, cls, where, "setting")
        if "train" not in values:
            raise ValueError(f"{where}: a [train] table is required (the TrainConfig of every trial)")
        train = TrainConfig.from_dict(values.pop("train"), where=f"{where} [train]")
        grid = values.pop("evaluation", {})
        _reject_unknown(grid, EvaluationGrid, where, "[evaluation] setting")
        return cls(train=train, evaluation=EvaluationGrid(**grid), **values)

    @classmethod
    def from_file(cls, path, **overrides):
        """Reads a ``.toml`` or ``.json`` file; keyword arguments (top-level settings) override it."""
        values = read_config_file(path)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(values, where=str(path))

    def to_dict(self):
        return dataclasses.asdict(self)
