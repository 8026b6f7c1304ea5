"""The result of evaluating a set of predictions: per-sequence rows, category rows, an overall row."""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from pathlib import Path
from typing import Mapping, Sequence

from cosnet_tf.utils.atomic import atomic_write_bytes, atomic_write_text
from cosnet_tf.evaluation.result_row import ResultRow

# DAVIS table headers: M = mean, O = recall ("object recall"), D = decay.
_STATISTIC_LETTERS = {"mean": "M", "recall": "O", "decay": "D"}


def metric_label(metric: str) -> str:
    """Short table header of a metric, DAVIS style.

    >>> metric_label("J_mean"), metric_label("F_recall"), metric_label("T_mean")
    ('J(M)', 'F(O)', 'T(M)')
    """
    measure, _, statistic = metric.partition("_")
    letter = _STATISTIC_LETTERS.get(statistic)
    return f"{measure}({letter})" if letter else metric


def _format_value(value: float, digits: int) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def _json_number(value):
    return None if isinstance(value, float) and math.isnan(value) else value


@dataclasses.dataclass(frozen=True)
class EvaluationResult:
    """Scores of one evaluation run.

    Attributes:
        protocol: ``"davis2016"``, ``"fbms"`` or ``"youtube-objects"``.
        metric_names: the score columns, in display order (e.g. ``("J_mean",
            "J_recall", "J_decay", "F_mean", "F_recall", "F_decay", "T_mean")``).
        sequences: one :class:`ResultRow` per sequence, in evaluation order.
        overall: the dataset row (see the protocol for how it averages).
        categories: per-category rows (YouTube-Objects), else empty.
        frame_scores: per-sequence raw scores, ``{sequence: {"frames": [stems],
            "J": [...], "F": [...], "T": [...]}}`` aligned with ``frames``
            (``T[i]`` compares frame ``i - 1`` with frame ``i``; ``T[0]`` is NaN).

    Example:

    >>> from cosnet_tf.evaluation import ResultRow
    >>> result = EvaluationResult(
    ...     "fbms", ("J_mean",),
    ...     (ResultRow("cars1", "sequence", 3, {"J_mean": 0.8}),
    ...      ResultRow("dogs01", "sequence", 4, {"J_mean": 0.6})),
    ...     ResultRow("overall", "overall", 7, {"J_mean": 0.7}))
    >>> print(result.format_table())
    Sequence  Frames   J(M)
    -----------------------
    cars1          3  0.800
    dogs01         4  0.600
    -----------------------
    Overall        7  0.700
    >>> result.row("dogs01")["J_mean"]
    0.6
    """

    protocol: str
    metric_names: tuple[str, ...]
    sequences: tuple[ResultRow, ...]
    overall: ResultRow
    categories: tuple[ResultRow, ...] = ()
    frame_scores: Mapping[str, Mapping[str, list]] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "metric_names", tuple(self.metric_names))
        object.__setattr__(self, "sequences", tuple(self.sequences))
        object.__setattr__(self, "categories", tuple(self.categories))

    # ------------------------------------------------------------------ access
    def row(self, name: str) -> ResultRow:
        """The row of a sequence, else of a category, else ``"overall"``.

        Raises:
            KeyError: no row has that name.
        """
        for row in self.sequences + self.categories:
            if row.name == name:
                return row
        if name == self.overall.name:
            return self.overall
        raise KeyError(f"no sequence or category named {name!r} in this {self.protocol} result")

    def __str__(self) -> str:
        return self.format_table()

    # ----------------------------------------------------------- serialisation
    def to_dict(self, *, include_frames: bool = True) -> dict:
        """JSON-ready dict (NaN becomes ``None``)."""
        data = {
            "protocol": self.protocol,
            "metrics": list(self.metric_names),
            "overall": self.overall.to_dict(),
            "categories": [row.to_dict() for row in self.categories],
            "sequences": [row.to_dict() for row in self.sequences],
        }
        if include_frames:
            data["frames"] = {
                sequence: {key: [_json_number(v) for v in values] for key, values in scores.items()}
                for sequence, scores in self.frame_scores.items()
            }
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> "EvaluationResult":
        """Inverse of :meth:`to_dict`."""
        frames = {
            sequence: {
                key: [v if key == "frames" else (math.nan if v is None else float(v)) for v in values]
                for key, values in scores.items()
            }
            for sequence, scores in data.get("frames", {}).items()
        }
        return cls(
            protocol=data["protocol"],
            metric_names=tuple(data["metrics"]),
            sequences=tuple(ResultRow.from_dict(row) for row in data["sequences"]),
            overall=ResultRow.from_dict(data["overall"]),
            categories=tuple(ResultRow.from_dict(row) for row in data.get("categories", [])),
            frame_scores=frames,
        )

    def to_json(self, path, *, include_frames: bool = True) -> Path:
        """Write the result as JSON (atomically) and return the path.

        The per-frame scores are included unless ``include_frames=False``.
        """
        text = json.dumps(self.to_dict(include_frames=include_frames), indent=2, allow_nan=False)
        return atomic_write_text(path, text + "\n")

    @classmethod
    def from_json(cls, path) -> "EvaluationResult":
        """Read a result written by :meth:`to_json`."""
        with open(path, encoding="utf-8") as handle:
            return cls.from_dict(json.load(handle))

    def to_csv(self, path) -> Path:
        """Write one CSV line per sequence, then per category, then the overall row (atomically).

        Columns: ``kind, name, num_frames`` and the metrics; undefined (NaN)
        scores are left empty.
        """
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["kind", "name", "num_frames", *self.metric_names])
        for row in self.sequences + self.categories + (self.overall,):
            values = [row.values.get(metric, math.nan) for metric in self.metric_names]
            writer.writerow(
                [row.kind, row.name, row.num_frames, *("" if math.isnan(v) else repr(v) for v in values)]
            )
        return atomic_write_text(path, buffer.getvalue())

    # ----------------------------------------------------------------- display
    def format_table(self, *, digits: int = 3) -> str:
        """A plain-text table: sequences, then categories, then the overall row."""
        header = ["Sequence", "Frames", *(metric_label(m) for m in self.metric_names)]

        def cells(row: ResultRow, name: str) -> list[str]:
            values = [row.values.get(metric, math.nan) for metric in self.metric_names]
            return [name, str(row.num_frames), *(_format_value(v, digits) for v in values)]

        blocks = [[cells(row, row.name) for row in self.sequences]]
        if self.categories:
            blocks.append([cells(row, row.name) for row in self.categories])
        blocks.append([cells(self.overall, "Overall")])
        all_rows = [header] + [line for block in blocks for line in block]
        widths = [max(len(line[i]) for line in all_rows) for i in range(len(header))]

        def render(line: Sequence[str]) -> str:
            first = line[0].ljust(widths[0])
            rest = [text.rjust(width) for text, width in zip(line[1:], widths[1:])]
            return "  ".join([first, *rest])

        rule = "-" * len(render(header))
        lines = [render(header), rule]
        for index, block in enumerate(blocks):
            if index:
                lines.append(rule)
            lines.extend(render(line) for line in block)
        return "\n".join(lines)

    def plot_per_sequence(self, path, *, metrics: Sequence[str] | None = None, dpi: int = 100) -> Path:
        """Bar plot of per-sequence scores, written as a PNG (atomically); returns the path.

        Args:
            path: output ``.png`` file.
            metrics: the metrics to draw side by side; default the ``*_mean``
                metrics of J and F (T is on another scale and lower is better).
            dpi: resolution.

        Dashed lines mark the overall values. Uses Matplotlib's Agg canvas
        directly, so it neither needs a display nor changes the global backend.
        """
        from cosnet_tf.utils.extras import require

        FigureCanvasAgg = require("matplotlib.backends.backend_agg", "plots", "the per-sequence plot").FigureCanvasAgg
        from matplotlib.figure import Figure

        if metrics is None:
            metrics = [m for m in ("J_mean", "F_mean") if m in self.metric_names] or list(
                self.metric_names[:1]
            )
        unknown = [m for m in metrics if m not in self.metric_names]
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown}; available: {list(self.metric_names)}")
        names = [row.name for row in self.sequences]
        count = max(len(names), 1)
        figure = Figure(figsize=(max(6.0, 0.35 * count + 2.0), 4.5))
        FigureCanvasAgg(figure)
        axes = figure.add_subplot(1, 1, 1)
        width = 0.8 / len(metrics)
        colours = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
        for index, metric in enumerate(metrics):
            colour = colours[index % len(colours)]
            offsets = [i - 0.4 + width * (index + 0.5) for i in range(len(names))]
            heights = [row.values.get(metric, math.nan) for row in self.sequences]
            axes.bar(offsets, heights, width=width, color=colour, label=metric_label(metric))
            overall = self.overall.values.get(metric, math.nan)
            if not math.isnan(overall):
                axes.axhline(overall, color=colour, linestyle="--", linewidth=1)
        axes.set_xticks(range(len(names)))
        axes.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
        axes.set_xlim(-0.6, count - 0.4)
        axes.set_ylabel("score")
        axes.set_title(f"{self.protocol}: per-sequence scores (dashed: overall)")
        axes.legend(loc="lower right", fontsize=8)
        axes.grid(axis="y", alpha=0.3)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi)
        return atomic_write_bytes(path, buffer.getvalue())
