"""How far apart two evaluations of the same sequences are, and how sure that difference is.

A benchmark score such as DAVIS-2016's J mean is an average over a handful of sequences (10
dev sequences here), and two settings of one model (N = 0 and N = 5 references, say) differ
by a few hundredths while single sequences move by several
(docs/research-log.md#2026-12-07--ten-dev-sequences-cannot-tell-a-gain-of-0006-j-from-002). Whether such a difference
would hold on other video is a question about the spread over sequences, so the interval
here comes from resampling sequences (a paired bootstrap: each resample keeps a sequence's
two scores together). SciPy's `scipy.stats.bootstrap` does the resampling (the `[analysis]`
extra), rather than a hand-written loop.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Mapping

import numpy as np

from cosnet_tf.evaluation.evaluation_result import EvaluationResult


@dataclasses.dataclass(frozen=True)
class PairedDifference:
    """The per-sequence difference `other - baseline` of one metric, its mean and interval.

    Attributes:
        metric: the compared metric (``"J_mean"``, ``"F_mean"``, ...).
        per_sequence: sequence -> ``other - baseline``, for the sequences both
            results score (NaN pairs, such as T of a sequence the protocol
            excludes, are left out).
        mean: the mean of `per_sequence`: for DAVIS-2016, whose overall row
            averages sequences, the difference of the two overall scores.
        interval: ``(low, high)``, the percentile bootstrap interval of `mean`
            over resampled sequences.
        confidence: the interval's confidence level.
    """

    metric: str
    per_sequence: Mapping[str, float]
    mean: float
    interval: tuple[float, float]
    confidence: float

    def format_table(self, digits: int = 3) -> str:
        """One line per sequence (its difference), then the mean with its interval."""
        width = max([len(name) for name in self.per_sequence] + [len("mean")])
        lines = [f"{name:<{width}}  {value:+.{digits}f}" for name, value in self.per_sequence.items()]
        low, high = self.interval
        lines.append(
            f"{'mean':<{width}}  {self.mean:+.{digits}f}  "
            f"({self.confidence:.0%} interval over sequences {low:+.{digits}f} to {high:+.{digits}f})"
        )
        return "\n".join(lines)


def paired_difference(
    baseline: EvaluationResult,
    other: EvaluationResult,
    metric: str = "J_mean",
    *,
    confidence: float = 0.95,
    resamples: int = 9999,
    seed: int = 0,
) -> PairedDifference:
    """Compares two evaluations of the same sequences: `other - baseline`, per sequence and on average.

    Args:
        baseline, other: results of :func:`cosnet_tf.evaluation.evaluate` over
            the same sequences (for example a model at N = 0 and at N = 5).
        metric: a per-sequence metric of both (``"J_mean"``, ``"F_mean"``,
            ``"T_mean"``, ...).
        confidence: level of the bootstrap interval.
        resamples: bootstrap resamples.
        seed: seed of the resampling (the interval is reproducible).

    Returns:
        A :class:`PairedDifference`.

    Raises:
        ValueError: the two results do not score the same sequences (the
            message names those only one has), a metric is missing, or fewer
            than two sequences have a score in both.

    Example:

    >>> from cosnet_tf.evaluation import ResultRow
    >>> def result(scores):
    ...     rows = tuple(ResultRow(name, "sequence", 10, {"J_mean": j}) for name, j in scores.items())
    ...     return EvaluationResult("davis2016", ("J_mean",), rows,
    ...                             ResultRow("overall", "overall", 30, {"J_mean": sum(scores.values()) / 3}))
    >>> n0 = result({"bear": 0.80, "car": 0.60, "dog": 0.70})
    >>> n5 = result({"bear": 0.82, "car": 0.61, "dog": 0.69})
    >>> difference = paired_difference(n0, n5)
    >>> round(difference.mean, 4), {name: round(v, 3) for name, v in difference.per_sequence.items()}
    (0.0067, {'bear': 0.02, 'car': 0.01, 'dog': -0.01})
    >>> low, high = difference.interval
    >>> bool(low < difference.mean < high)
    True
    """
    from cosnet_tf.utils.extras import require

    stats = require("scipy.stats", "analysis", "a bootstrap interval of a paired difference")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    baseline_rows = {row.name: row for row in baseline.sequences}
    other_rows = {row.name: row for row in other.sequences}
    if baseline_rows.keys() != other_rows.keys():
        only_baseline = sorted(baseline_rows.keys() - other_rows.keys())
        only_other = sorted(other_rows.keys() - baseline_rows.keys())
        raise ValueError(
            "the two results score different sequences: only in the baseline "
            f"{only_baseline or 'none'}, only in the other {only_other or 'none'}"
        )
    per_sequence = {}
    for name, row in baseline_rows.items():
        before, after = row[metric], other_rows[name][metric]
        if not (math.isnan(before) or math.isnan(after)):
            per_sequence[name] = after - before
    if len(per_sequence) < 2:
        raise ValueError(
            f"a paired difference of {metric!r} needs at least two sequences scored in both "
            f"results, got {len(per_sequence)}"
        )
    differences = np.array(list(per_sequence.values()), dtype=np.float64)
    interval = stats.bootstrap(
        (differences,),
        np.mean,
        confidence_level=confidence,
        n_resamples=resamples,
        # Percentile, not SciPy's default BCa: BCa is undefined when every sequence moves by the
        # same amount (two identical settings), which is a comparison worth being able to print.
        method="percentile",
        rng=np.random.default_rng(seed),
    ).confidence_interval
    return PairedDifference(
        metric=metric,
        per_sequence=per_sequence,
        mean=float(differences.mean()),
        interval=(float(interval.low), float(interval.high)),
        confidence=confidence,
    )
