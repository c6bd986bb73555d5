"""A monitor group's states: small integer codes in the evaluator's arrays, Datadog's names everywhere else.

The evaluator computes states for thousands of evaluation minutes at once as numpy arrays of codes, so a state is an
IntEnum; what the API answers, the stored documents and the transitions carry is its `wire` name ("OK", "Warn",
"Alert", "No Data": DATADOG.md 3.1's overall_state enum), which never changes with the codes.
"""

from __future__ import annotations

from enum import IntEnum


class MonitorState(IntEnum):
    """A group's state; the code order is the evaluator's, `severity` the overall_state order."""

    OK = 0
    WARN = 1
    ALERT = 2
    NO_DATA = 3

    @property
    def wire(self) -> str:
        """Datadog's name of the state, as the API and the stored documents write it."""
        return _WIRE[self]

    @property
    def severity(self) -> int:
        """How bad the state is for a monitor's overall_state: Alert > Warn > No Data > OK."""
        return _SEVERITY[self]

    @property
    def triggered(self) -> bool:
        """Alert or Warn: a threshold is crossed."""
        return self in (MonitorState.WARN, MonitorState.ALERT)

    @classmethod
    def from_wire(cls, name: str) -> MonitorState:
        """The state a stored or answered name stands for; ValueError for a name that is none of them."""
        for state, wire in _WIRE.items():
            if wire == name:
                return state
        raise ValueError(f"{name!r} is not a monitor state; expected one of {', '.join(_WIRE.values())}")


_WIRE = {MonitorState.OK: "OK", MonitorState.WARN: "Warn", MonitorState.ALERT: "Alert", MonitorState.NO_DATA: "No Data"}
_SEVERITY = {MonitorState.OK: 0, MonitorState.NO_DATA: 1, MonitorState.WARN: 2, MonitorState.ALERT: 3}
