"""A mergeable quantile sketch with 0.5 % relative accuracy (log-spaced bins, the DDSketch idea).

Run summaries need p50/p95 over millions of values without keeping them: a fixed array of bin
counts is updated with one `np.bincount` per batch, merges by addition, and is deterministic.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

ALPHA = 0.005  # relative accuracy
_GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(_GAMMA)
MIN_VALUE, MAX_VALUE = 1e-9, 1e6
_OFFSET = int(math.floor(math.log(MIN_VALUE) / _LOG_GAMMA))
_BINS = int(math.ceil(math.log(MAX_VALUE) / _LOG_GAMMA)) - _OFFSET + 1


class QuantileSketch:
    """Counts of positive values in log bins; values are clipped to [1e-9, 1e6] (zero counts as 1e-9)."""

    __slots__ = ("counts", "count", "max", "total")

    def __init__(self) -> None:
        self.counts = np.zeros(_BINS, dtype=np.int64)
        self.count = 0
        self.max = -math.inf
        self.total = 0.0

    def add(self, values: np.ndarray | list[float]) -> None:
        v = np.asarray(values, dtype=np.float64)
        if v.size == 0:
            return
        clipped = np.clip(v, MIN_VALUE, MAX_VALUE)
        idx = np.ceil(np.log(clipped) / _LOG_GAMMA).astype(np.int64) - _OFFSET
        self.counts += np.bincount(idx, minlength=_BINS)[:_BINS]
        self.count += int(v.size)
        self.max = max(self.max, float(v.max()))
        self.total += float(v.sum())

    def quantile(self, q: float) -> float:
        """The q-quantile (0..1) within 0.5 % relative error, NaN when empty; q=1 is the exact max."""
        if self.count == 0:
            return math.nan
        if q >= 1:
            return self.max
        rank = q * (self.count - 1)
        i = int(np.searchsorted(np.cumsum(self.counts), rank, side="right"))
        return min(2 * _GAMMA ** (i + _OFFSET) / (_GAMMA + 1), self.max)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form: only the non-empty bins (a sketch is mostly empty)."""
        nonzero = np.flatnonzero(self.counts)
        return {"bins": nonzero.tolist(), "counts": self.counts[nonzero].tolist(), "count": self.count,
                "max": None if self.count == 0 else self.max, "total": self.total}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QuantileSketch:
        sketch = cls()
        sketch.counts[np.asarray(data["bins"], dtype=np.int64)] = np.asarray(data["counts"], dtype=np.int64)
        sketch.count, sketch.total = int(data["count"]), float(data["total"])
        sketch.max = -math.inf if data["max"] is None else float(data["max"])
        return sketch

    def merge(self, other: "QuantileSketch") -> None:
        self.counts += other.counts
        self.count += other.count
        self.max = max(self.max, other.max)
        self.total += other.total
