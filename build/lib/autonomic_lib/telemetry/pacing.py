"""Pacings: when each part of a timeline is sent. One scenario definition serves both.

- `Backfill`: the timeline ends now and everything is sent at once. The sandbox accepts it because
  the kit starts it with Late Data for autonomic.*; on real Datadog the same needs Late Data
  ("historical metrics ingestion") enabled for autonomic.* (points older than 1 h are otherwise
  dropped); logs and events are accepted up to 18 h back.
- `Live`: the history phases (the baseline) end now and are backfilled; the incident phases play in
  real time, each 10 s flush window sent just after it closes, as the Datadog Agent would, so real
  monitors see them inside their evaluation windows. On real Datadog a 4 h baseline still needs Late
  Data; without it pass `history_max_age=3300` to send only the last 55 min of history and accept
  that the agile anomaly monitor has no bounds until 3 h of data exist.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

from ..errors import ScenarioError
from .points import FLUSH_INTERVAL


class Span(Protocol):
    """What a pacing needs of a phase (a swarm `Phase` is one): its length and whether it is history."""

    @property
    def duration(self) -> float: ...

    @property
    def history(self) -> bool: ...


def align(t: float) -> int:
    """`t` rounded down to a flush boundary."""
    return int(t // FLUSH_INTERVAL * FLUSH_INTERVAL)


@dataclass(frozen=True)
class Backfill:
    """Lay the timeline out so that it ends at `end` (default: now) and send it at once."""

    end: float | None = None
    name: str = field(default="backfill", init=False)

    def start_for(self, phases: Sequence[Span], now: float) -> int:
        """Epoch second the timeline of `phases` starts at."""
        return align(self.end if self.end is not None else now) - int(round(sum(p.duration for p in phases)))


@dataclass(frozen=True)
class Live:
    """Backfill the history phases so they end at `now`, then send the rest as its flush windows close."""

    now: float | None = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    lag: float = 2.0  # seconds after a window closes before it is sent (the Agent's flush is similar)
    history_max_age: float | None = None  # drop history metric points older than this (no Late Data)
    name: str = field(default="live", init=False)

    def start_for(self, phases: Sequence[Span], now: float) -> int:
        """Epoch second the timeline of `phases` starts at, so that its history phases end at `now`."""
        flags = [p.history for p in phases]
        if any(flags[i + 1] and not flags[i] for i in range(len(flags) - 1)):
            raise ScenarioError("history phases must come before the others for live pacing", field="phases")
        history = sum(p.duration for p in phases if p.history)
        return align(self.now if self.now is not None else now) - int(round(history))

    def wait_until(self, t: float) -> None:
        """Sleep until the clock reaches `t`."""
        while True:
            left = t - self.clock()
            if left <= 0:
                return
            self.sleep(min(left, 5.0))


Pacing = Backfill | Live  # noqa: UP007 - a type alias for annotations
