"""Catalogue-checked series and the buffer of flushed points waiting to be sent.

Every series the telemetry creates goes through `PointBuffer.key(metric, **tags)`, which checks the
metric and each tag against assets/metadata.csv and tags.csv the first time that combination is
used: an unknown metric or tag is a CatalogError at the call site, naming it. Points are kept as
numpy arrays per series and turned into `Series` for `submit_series`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..catalog import Catalog, load_catalog
from ..series import Series

FLUSH_INTERVAL = 10  # seconds: the Datadog Agent's flush, and the catalogue's interval
SeriesKey = tuple[str, tuple[str, ...]]  # (metric, sorted "key:value" tags)
_TAG_ORDER = ("env", "service", "version", "agent_id", "phase", "role", "verdict", "failure_reason")


def flush_bucket(times: np.ndarray) -> np.ndarray:
    """Start of the 10 s flush window each time falls in (epoch seconds, int64)."""
    return (np.floor(np.asarray(times, dtype=np.float64) / FLUSH_INTERVAL) * FLUSH_INTERVAL).astype(np.int64)


def tag_value(tags: tuple[str, ...], key: str) -> str | None:
    """The value of `key` in a tag tuple, or None."""
    prefix = key + ":"
    return next((t[len(prefix):] for t in tags if t.startswith(prefix)), None)


@dataclass
class SeriesPoints:
    """Points of one series, possibly arriving in several chunks."""

    ts: list[np.ndarray]
    values: list[np.ndarray]


class PointBuffer:
    """Flushed points per catalogue-checked series.

    Usage::

        buf = PointBuffer(env="demo")
        key = buf.key("autonomic.agent.messages", service="autonomic-chatbot", version="v1",
                      agent_id="agent-01", phase="baseline")          # CatalogError if not allowed
        buf.add(key, timestamps, values)
    """

    def __init__(self, env: str, catalog: Catalog | None = None):
        self.env = env
        self.catalog = catalog or load_catalog()
        self._checked: dict[tuple[str, tuple[tuple[str, str], ...]], SeriesKey] = {}
        self.series: dict[SeriesKey, SeriesPoints] = {}
        self.points = 0

    def key(self, metric: str, **tags: str) -> SeriesKey:
        """The series key of `metric` with `tags` (env added), checked against the catalogue once."""
        cache_key = (metric, tuple(tags.items()))
        found = self._checked.get(cache_key)
        if found is not None:
            return found
        items = {"env": self.env, **tags}
        tag_list = tuple(f"{k}:{items[k]}" for k in sorted(items, key=lambda k: (_TAG_ORDER.index(k)
                                                                                 if k in _TAG_ORDER else 99, k)))
        self.catalog.check_tags(metric, tag_list)
        missing = {"env", "service", "version", "agent_id", "phase"} - items.keys()
        if missing:
            raise ValueError(f"{metric}: every point carries env, service, version, agent_id and phase; "
                             f"missing {', '.join(sorted(missing))}")
        key = (metric, tag_list)
        self._checked[cache_key] = key
        return key

    def add(self, key: SeriesKey, ts: np.ndarray, values: np.ndarray) -> None:
        """Append flushed points (one per flush window) to a series."""
        if len(ts) == 0:
            return
        entry = self.series.get(key)
        if entry is None:
            entry = self.series[key] = SeriesPoints([], [])
        entry.ts.append(np.asarray(ts, dtype=np.int64))
        entry.values.append(np.asarray(values, dtype=np.float64))
        self.points += len(ts)

    def merged(self) -> Iterator[tuple[SeriesKey, np.ndarray, np.ndarray]]:
        """Each series' points sorted by time; two points in one flush window of a series is a bug, so it raises."""
        for key, entry in self.series.items():
            ts = np.concatenate(entry.ts)
            values = np.concatenate(entry.values)
            if len(entry.ts) > 1:
                order = np.argsort(ts, kind="stable")
                ts, values = ts[order], values[order]
            if len(ts) > 1 and not (np.diff(ts) > 0).all():
                raise RuntimeError(f"{key[0]} {','.join(key[1])}: two points in one flush window")
            yield key, ts, values

    def to_series(self) -> list[Series]:
        """`Series` objects for `submit_series`, typed and unit-tagged from the catalogue."""
        out = []
        for (metric, tags), ts, values in self.merged():
            spec = self.catalog.metric(metric)
            out.append(Series(metric, ts, values, tags=list(tags), type=spec.type if spec.type != "distribution" else "gauge",
                              interval=spec.interval, unit=spec.unit))
        return out

    def clear(self) -> None:
        """Forget the points (the checked series keys stay cached)."""
        self.series.clear()
        self.points = 0
