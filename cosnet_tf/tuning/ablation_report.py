"""Tables laid out like the paper's Tables 1 and 2, and a J-against-N plot, from a search."""
import json
import math
import os

from cosnet_tf.evaluation.video_j_evaluator import OBJECTIVE, EvaluationGrid
from cosnet_tf.utils.atomic import atomic_output_path, atomic_write_bytes, atomic_write_text

VARIANT_LABELS = {
    "vanilla": "Vanilla co-attention (Eq. 3)",
    "symmetric": "Symmetric co-attention (Eq. 4)",
    "channel": "Channel-wise co-attention (Eq. 5)",
    "none": "w/o co-attention (DeepLabv3 baseline)",
}
FUSION_LABELS = {"attention": "Attention summary fusion (Eq. 13)", "prediction": "Prediction fusion",
                 "joint": "Joint attention over all references"}
SAMPLING_LABELS = {
    "uniform": "Global uniform sampling",
    "random": "Global random sampling",
    "local": "Local consecutive sampling",
}


def _value(number, digits=3):
    return "n/a" if number is None or not math.isfinite(number) else f"{number:.{digits}f}"


def _delta(number, reference):
    if number is None or reference is None:
        return "n/a"
    return f"{number - reference:+.3f}"


class AblationReport:
    """The results of a search as the paper reports them.

    * Table 1: co-attention mechanism (one trained model per variant, plus
      the baseline without co-attention), fusion strategy and frame
      selection strategy (test-time settings of the reference variant's
      model), each with mean J and its difference to the block's reference
      row (the full model: N = 5, attention fusion, uniform sampling).
    * Table 2: mean J against the number of reference frames N, per variant.
    * All trials with their hyperparameters, status, J and training time.

    When several trials share a variant (a search over learning rates, say),
    the tables use the variant's best trial by ``video_J``.

    Args:
        trials: dicts with ``trial_id``, ``status``, ``hyperparameters`` and
            ``metrics`` (name -> last value); see :meth:`from_tuner`.
        grid: the search's :class:`EvaluationGrid`.
        default_coattention: the variant of trials whose space does not set
            ``coattention``.
        reference_coattention: the full model's variant (default:
            ``symmetric`` when present, as in the paper, else the best).
        title: the dataset or benchmark name, for headings.

    Example:

    >>> grid = EvaluationGrid(refs=[0, 5], fusions=["attention"], samplings=["uniform"])
    >>> trials = [{"trial_id": "0", "status": "COMPLETED", "hyperparameters": {"coattention": "vanilla"},
    ...            "metrics": {"video_J": 0.7, "J_N5_attention_uniform": 0.7, "J_N0_attention_uniform": 0.6}}]
    >>> print(AblationReport(trials, grid).table2())
    | Co-attention | N = 0 | N = 5 |
    |---|---|---|
    | Vanilla co-attention (Eq. 3) | 0.600 | 0.700 |
    """

    def __init__(self, trials, grid=None, default_coattention="vanilla", reference_coattention=None,
                 title="validation"):
        self.trials = list(trials)
        self.grid = grid or EvaluationGrid()
        self.default_coattention = default_coattention or "none"
        self.title = title
        best = {}
        for trial in self.completed:
            variant = self.variant(trial)
            score = trial["metrics"].get(OBJECTIVE)
            if variant not in best or (score or -1) > (best[variant]["metrics"].get(OBJECTIVE) or -1):
                best[variant] = trial
        self.best_by_variant = {v: best[v] for v in VARIANT_LABELS if v in best}
        trained = [v for v in self.best_by_variant if v != "none"]
        if reference_coattention is None:
            if "symmetric" in trained:
                reference_coattention = "symmetric"
            elif trained:
                reference_coattention = max(trained, key=lambda v: self._j(v, self.grid.default_setting) or -1)
        self.reference_coattention = reference_coattention

    @classmethod
    def from_tuner(cls, tuner, grid, **kwargs):
        """Reads every trial of a Keras Tuner search (finished or not)."""
        trials = []
        for trial_id, trial in sorted(tuner.oracle.trials.items()):
            metrics = {}
            for name in trial.metrics.metrics:
                value = trial.metrics.get_last_value(name)
                if value is not None:
                    metrics[name] = float(value)
            trials.append({
                "trial_id": trial_id,
                "status": str(trial.status),
                "hyperparameters": dict(trial.hyperparameters.values),
                "metrics": metrics,
            })
        return cls(trials, grid, **kwargs)

    @property
    def completed(self):
        return [t for t in self.trials if t["status"] == "COMPLETED" and OBJECTIVE in t["metrics"]]

    def variant(self, trial):
        value = trial["hyperparameters"].get("coattention", self.default_coattention)
        return "none" if value is None else value

    def _j(self, variant, setting):
        trial = self.best_by_variant.get(variant)
        if trial is None:
            return None
        if variant == "none":  # no co-attention: the references change nothing
            setting = (0,) + tuple(setting[1:])
        return trial["metrics"].get(self.grid.metric(*setting))

    # ----------------------------------------------------------------- tables
    def table1(self):
        """Markdown: the paper's Table 1 layout (mean J, and its change to the block's reference)."""
        refs, fusion, sampling = self.grid.default_setting
        reference = self.reference_coattention
        lines = [f"| {self.title} | mean J | ΔJ |", "|---|---|---|"]
        lines.append(f"| ***Co-attention mechanism*** (N = {refs}, {fusion} fusion, {sampling} sampling) | | |")
        base = self._j(reference, self.grid.default_setting)
        for variant in self.best_by_variant:
            value = self._j(variant, self.grid.default_setting)
            delta = "—" if variant == reference else _delta(value, base)
            lines.append(f"| {VARIANT_LABELS[variant]} | {_value(value)} | {delta} |")
        if reference is not None:
            name = VARIANT_LABELS[reference].split(" (")[0].lower()
            for heading, axis, labels, default in (
                ("Fusion strategy", 1, FUSION_LABELS, fusion),
                ("Frame selection strategy", 2, SAMPLING_LABELS, sampling),
            ):
                values = self.grid.fusions if axis == 1 else self.grid.samplings
                if len(values) < 2:
                    continue
                lines.append(f"| ***{heading}*** ({name}, N = {refs}) | | |")
                for choice in values:
                    setting = list(self.grid.default_setting)
                    setting[axis] = choice
                    value = self._j(reference, tuple(setting))
                    delta = "—" if choice == default else _delta(value, base)
                    lines.append(f"| {labels[choice]} | {_value(value)} | {delta} |")
        return "\n".join(lines)

    def table2(self):
        """Markdown: the paper's Table 2 layout (mean J for each number of reference frames N)."""
        refs = sorted(set(self.grid.refs))
        lines = ["| Co-attention | " + " | ".join(f"N = {n}" for n in refs) + " |",
                 "|---" * (len(refs) + 1) + "|"]
        for variant in self.best_by_variant:
            values = [self._j(variant, (n,) + self.grid.default_setting[1:]) for n in refs]
            lines.append(f"| {VARIANT_LABELS[variant]} | " + " | ".join(_value(v) for v in values) + " |")
        return "\n".join(lines)

    def trials_table(self):
        """Markdown: every trial, its hyperparameters, status, video J, steps and fit time.

        The fit time is the wall time of the trial's ``fit`` in the run that
        finished it: training plus the held-out scoring (``eval_seconds``).
        """
        names = sorted({k for t in self.trials for k in t["hyperparameters"] if not k.startswith("tuner/")})
        lines = ["| trial | " + " | ".join(names) + " | status | video J | steps | fit s |",
                 "|---" * (len(names) + 5) + "|"]
        for trial in self.trials:
            hp = trial["hyperparameters"]
            metrics = trial["metrics"]
            cells = [f"{hp[k]:.3g}" if isinstance(hp.get(k), float) else str(hp.get(k, "")) for k in names]
            steps = metrics.get("steps")
            seconds = metrics.get("train_seconds")
            lines.append(
                f"| {trial['trial_id']} | " + " | ".join(cells) + f" | {trial['status']} | "
                f"{_value(metrics.get(OBJECTIVE))} | {'' if steps is None else int(steps)} | "
                f"{'' if seconds is None else round(seconds)} |"
            )
        return "\n".join(lines)

    def markdown(self, command=None, notes=None):
        parts = [f"# COSNet ablation: {self.title}", ""]
        if command:
            parts += ["Made with:", "", "```", command, "```", ""]
        if notes:
            parts += [notes, ""]
        parts += [
            "Mean region similarity J (DAVIS-2016 protocol: every frame but the first and the last) of "
            "the held-out sequences, each segmented for real with `VideoSegmenter` (threshold 0.5, no CRF). "
            "Test-time settings (N, fusion, sampling) are scored on the same trained model.",
            "",
            "## Table 1: co-attention mechanism, fusion and frame selection",
            "",
            self.table1(),
            "",
            "## Table 2: number of reference frames N at test time",
            "",
            self.table2(),
            "",
            "![J against N](j_vs_n.png)",
            "",
            "## All trials",
            "",
            self.trials_table(),
            "",
        ]
        return "\n".join(parts)

    # ------------------------------------------------------------------ plot
    def plot_j_vs_n(self, path):
        """A PNG of mean J against N, one line per variant (the baseline as a dashed line)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        refs = sorted(set(self.grid.refs))
        figure, axes = plt.subplots(figsize=(5.5, 3.8), dpi=120)
        for variant in self.best_by_variant:
            values = [self._j(variant, (n,) + self.grid.default_setting[1:]) for n in refs]
            values = [math.nan if v is None else v for v in values]
            label = VARIANT_LABELS[variant].split(" (")[0]
            if variant == "none":
                axes.axhline(values[0], color="grey", linestyle="--", label=label)
            else:
                axes.plot(refs, values, marker="o", label=label)
        axes.set_xlabel("reference frames N at test time")
        axes.set_ylabel("mean J")
        axes.set_xticks(refs)
        axes.set_title(f"COSNet: mean J against N\n{self.title}", fontsize=10)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
        figure.tight_layout()
        with atomic_output_path(path, suffix=".png") as tmp:
            figure.savefig(tmp, format="png")
        plt.close(figure)
        return path

    def write(self, directory, command=None, notes=None):
        """Writes ``ablation.md``, ``j_vs_n.png`` and ``trials.json`` (atomically); returns their paths."""
        os.makedirs(directory, exist_ok=True)
        paths = {
            "markdown": os.path.join(directory, "ablation.md"),
            "plot": os.path.join(directory, "j_vs_n.png"),
            "trials": os.path.join(directory, "trials.json"),
        }
        self.plot_j_vs_n(paths["plot"])
        atomic_write_text(paths["markdown"], self.markdown(command, notes))
        atomic_write_bytes(paths["trials"], json.dumps(self.trials, indent=2).encode())
        return paths
