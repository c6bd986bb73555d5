"""What a silencing product (downtimes) tells the evaluator about one owed notification.

The monitors product cannot import the products that silence it (they read monitors), so the evaluation service
takes a `SilenceFn` (app.py wires the downtimes' `silence`) and asks it before each notification.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from autonomic_lib.sandbox.monitors.evaluator import Transition


@dataclass(frozen=True)
class Silence:
    """The answer for one owed notification: wait (ask again next run), deliver this transition instead (held
    until a downtime's end), or, when neither, muted; `reason` is written on the stored transition."""

    wait: bool = False
    deliver: Transition | None = None
    reason: str | None = None


SilenceFn = Callable[[dict[str, Any], Transition, float], "Silence | None"]


def never_silenced(monitor: dict[str, Any], transition: Transition, now: float) -> Silence | None:
    return None
