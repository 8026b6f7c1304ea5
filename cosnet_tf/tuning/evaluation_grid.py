"""Which test-time settings (N, fusion, sampling) each trained model is scored with."""
import dataclasses
import numbers

from cosnet_tf.inference.reference_sampling import SAMPLING_STRATEGIES
from cosnet_tf.inference.video_segmenter import FUSIONS

# The objective of every search: J of the default setting, from real video segmentation.
OBJECTIVE = "video_J"

LAYOUTS = ("one-at-a-time", "full")


def setting_metric(refs, fusion, sampling):
    """The metric name of one test-time setting, e.g. ``J_N5_attention_uniform``."""
    return f"J_N{refs}_{fusion}_{sampling}"


@dataclasses.dataclass
class EvaluationGrid:
    """The test-time axes of the ablation: evaluated on one trained model, no retraining.

    The paper's Table 1 changes one thing at a time from its full model
    (N = 5, attention-summary fusion, global uniform sampling) and Table 2
    varies N alone; ``layout="one-at-a-time"`` scores exactly those settings.
    ``"full"`` scores the whole product (N = 0 once: with no reference,
    fusion and sampling do not apply).

    Args:
        refs: the values of N (Table 2).
        fusions: ``"attention"`` (Eq. 13) and/or ``"prediction"``.
        samplings: any of ``"uniform"``, ``"random"``, ``"local"`` (Table 1).
        default: ``{"refs", "fusion", "sampling"}``: the setting whose J is the
            search objective (``video_J``) and from which one-at-a-time varies.
        layout: ``"one-at-a-time"`` or ``"full"``.

    Example:

    >>> grid = EvaluationGrid(refs=[0, 1, 5], fusions=["attention", "prediction"],
    ...                       samplings=["uniform"])
    >>> [setting_metric(*s) for s in grid.settings()]
    ['J_N5_attention_uniform', 'J_N0_attention_uniform', 'J_N1_attention_uniform', 'J_N5_prediction_uniform']
    """

    refs: list = dataclasses.field(default_factory=lambda: [0, 1, 2, 5, 7])
    fusions: list = dataclasses.field(default_factory=lambda: list(FUSIONS))
    samplings: list = dataclasses.field(default_factory=lambda: list(SAMPLING_STRATEGIES))
    default: dict = dataclasses.field(default_factory=dict)
    layout: str = "one-at-a-time"

    def __post_init__(self):
        self.refs = [self._check_refs(n) for n in self.refs]
        self.fusions = list(self.fusions)
        self.samplings = list(self.samplings)
        for name, values, allowed in (("fusions", self.fusions, FUSIONS),
                                      ("samplings", self.samplings, SAMPLING_STRATEGIES)):
            unknown = [v for v in values if v not in allowed]
            if unknown or not values:
                raise ValueError(f"evaluation.{name}: {values!r} must be a non-empty list of {allowed}")
        if not self.refs:
            raise ValueError("evaluation.refs must list at least one N")
        unknown = set(self.default) - {"refs", "fusion", "sampling"}
        if unknown:
            raise ValueError(f"evaluation.default: unknown key(s) {sorted(unknown)}; "
                             "expected refs, fusion, sampling")
        positive = [n for n in self.refs if n > 0]
        self.default = {
            "refs": self._check_refs(self.default.get("refs", 5 if 5 in self.refs else max(self.refs))),
            "fusion": self.default.get("fusion", self.fusions[0]),
            "sampling": self.default.get("sampling", self.samplings[0]),
        }
        if self.default["fusion"] not in FUSIONS or self.default["sampling"] not in SAMPLING_STRATEGIES:
            raise ValueError(f"evaluation.default: {self.default} names an unknown fusion or sampling")
        if self.layout not in LAYOUTS:
            raise ValueError(f"evaluation.layout must be one of {LAYOUTS}, got {self.layout!r}")
        if not positive and (len(self.fusions) > 1 or len(self.samplings) > 1):
            raise ValueError("evaluation: fusions and samplings need some N > 0 in refs")

    @staticmethod
    def _check_refs(value):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"evaluation.refs: N must be an integer >= 0, got {value!r}")
        return int(value)

    @property
    def default_setting(self):
        return self.default["refs"], self.default["fusion"], self.default["sampling"]

    def settings(self):
        """The (N, fusion, sampling) settings to score, the default first, no repeats."""
        refs, fusion, sampling = self.default_setting
        if self.layout == "full":
            candidates = [(n, f, s) for n in self.refs for f in self.fusions for s in self.samplings]
        else:
            candidates = [(n, fusion, sampling) for n in self.refs]
            candidates += [(refs, f, sampling) for f in self.fusions]
            candidates += [(refs, fusion, s) for s in self.samplings]
        seen, ordered = set(), []
        for setting in [self.default_setting] + candidates:
            key = self.canonical(setting)
            if key not in seen:
                seen.add(key)
                ordered.append(key)
        return ordered

    def canonical(self, setting):
        """N = 0 ignores fusion and sampling: one setting stands for all of them."""
        refs, fusion, sampling = setting
        if refs == 0:
            return 0, self.default["fusion"], self.default["sampling"]
        return int(refs), fusion, sampling

    def metric(self, refs, fusion=None, sampling=None) -> str:
        """The metric name holding J of a setting (defaults fill what is not given)."""
        setting = self.canonical((refs, fusion or self.default["fusion"], sampling or self.default["sampling"]))
        return setting_metric(*setting)
