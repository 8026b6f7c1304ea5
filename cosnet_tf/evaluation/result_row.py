"""One row of an evaluation table: the scores of a sequence, a category or the whole set."""
from __future__ import annotations

import dataclasses
import math
from typing import Mapping

ROW_KINDS = ("sequence", "category", "overall")


@dataclasses.dataclass(frozen=True)
class ResultRow:
    """Scores of one sequence, category or of the whole dataset.

    Attributes:
        name: sequence name (``"bear"``, ``"aeroplane/0001"``), category name
            or ``"overall"``.
        kind: ``"sequence"``, ``"category"`` or ``"overall"``.
        num_frames: number of scored frames behind the scores.
        values: metric name -> score (``"J_mean"``, ``"F_decay"``, ...); NaN
            when undefined (e.g. T of a sequence with empty masks).

    Example:

    >>> row = ResultRow("bear", "sequence", 80, {"J_mean": 0.9})
    >>> row["J_mean"]
    0.9
    >>> row.to_dict()
    {'name': 'bear', 'kind': 'sequence', 'num_frames': 80, 'values': {'J_mean': 0.9}}
    """

    name: str
    kind: str
    num_frames: int
    values: Mapping[str, float]

    def __post_init__(self):
        if self.kind not in ROW_KINDS:
            raise ValueError(f"kind must be one of {ROW_KINDS}, got {self.kind!r}")
        # A private copy with plain floats: the row does not alias the caller's dict.
        object.__setattr__(self, "values", {str(k): float(v) for k, v in dict(self.values).items()})
        object.__setattr__(self, "num_frames", int(self.num_frames))

    def __getitem__(self, metric: str) -> float:
        try:
            return self.values[metric]
        except KeyError:
            raise KeyError(
                f"no metric {metric!r} in row {self.name!r}; available: {sorted(self.values)}"
            ) from None

    def to_dict(self) -> dict:
        """JSON-ready dict; NaN scores become ``None``."""
        return {
            "name": self.name,
            "kind": self.kind,
            "num_frames": self.num_frames,
            "values": {k: (None if math.isnan(v) else v) for k, v in self.values.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "ResultRow":
        """Inverse of :meth:`to_dict` (``None`` scores become NaN)."""
        values = {k: (math.nan if v is None else float(v)) for k, v in data["values"].items()}
        return cls(data["name"], data["kind"], data["num_frames"], values)
