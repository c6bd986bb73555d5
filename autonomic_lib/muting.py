"""Muting one of the kit's monitors for one phase of the traffic, with a Datadog downtime (v2), as an operator does
during planned work (notebook 02's MUTE_PHASE).

Why: on Datadog, "downtimes silence all monitors' alerts and notifications, but do not prevent monitor states
transitions" (https://docs.datadoghq.com/monitors/downtimes/), so a muted phase still shows in the monitor's
history while its workflow does not run. The downtime is scheduled before the traffic is sent, over the phase's
time span: the pacing is pinned here (a backfill ends at the instant chosen now), so the span the downtime covers
is the span the phase is sent at. With live pacing the span is computed from now as the traffic will start a
moment later (seconds off, below a monitor's minute). Datadog's acceptance of a downtime that starts in the past (a
backfilled phase) is UNCONFIRMED; the sandbox accepts it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from datadog_api_client import ApiClient

from .analysis import kit_monitors
from .errors import ConfigError
from .session import Session, clear_previous_run
from .swarm.engine import Timeline
from .telemetry import Backfill, Live


@dataclass(frozen=True)
class PhaseMute:
    """What `mute_phase` did: the pacing to send the traffic with, and the downtime (None when nothing is muted)."""

    pacing: Backfill | Live
    phase: str | None = None
    monitor: str | None = None
    monitor_id: int | None = None
    downtime_id: str | None = None
    start: int | None = None
    end: int | None = None

    def describe(self) -> pd.DataFrame:
        """The muting as a two-column table for the notebook."""
        if self.downtime_id is None:
            return pd.DataFrame({"value": {"muted": "nothing (MUTE_PHASE is None)"}})
        span = f"{_iso(self.start)} to {_iso(self.end)}"
        return pd.DataFrame({"value": {"monitor": f"{self.monitor} (id {self.monitor_id})", "phase": self.phase,
                                       "downtime": self.downtime_id, "muted from": span}})


def mute_phase(session: Session, api_client: ApiClient, phase: str | None, monitor: str) -> PhaseMute:
    """Schedule a downtime of `monitor` (its short name, e.g. "Optimization failure") over `phase` of the run about
    to be sent; returns the pacing to send it with (`send_traffic(..., pacing=muted.pacing)`).

    Raises:
        ConfigError: an unknown phase or monitor (the message lists the known ones).
    """
    from datadog_api_client.v2.api.downtimes_api import DowntimesApi
    from datadog_api_client.v2.model.downtime_create_request import DowntimeCreateRequest
    from datadog_api_client.v2.model.downtime_create_request_attributes import DowntimeCreateRequestAttributes
    from datadog_api_client.v2.model.downtime_create_request_data import DowntimeCreateRequestData
    from datadog_api_client.v2.model.downtime_monitor_identifier_id import DowntimeMonitorIdentifierId
    from datadog_api_client.v2.model.downtime_resource_type import DowntimeResourceType
    from datadog_api_client.v2.model.downtime_schedule_one_time_create_update_request import (
        DowntimeScheduleOneTimeCreateUpdateRequest,
    )

    if phase is None:
        return PhaseMute(session.pacing)  # nothing pinned: the run is sent exactly as without muting
    now = time.time()
    pacing: Backfill | Live = Live() if session.plan.pacing == "live" else Backfill(end=now)
    clear_previous_run(session, api_client)  # before the downtime: a new run clears the last run's downtimes
    scenario = session.scenario
    timeline = Timeline(scenario, pacing.start_for(scenario.phases, now))
    if phase not in timeline.names:
        raise ConfigError(f"MUTE_PHASE {phase!r} is not a phase of {scenario.name}; expected one of "
                          f"{', '.join(timeline.names)}")
    index = timeline.names.index(phase)
    start = int(timeline.starts[index])
    end = int(timeline.starts[index + 1] if index + 1 < len(timeline.starts) else timeline.end)
    monitors = kit_monitors(api_client)
    found = monitors[monitors["monitor"] == monitor]
    if found.empty:
        raise ConfigError(f"MUTE_MONITOR {monitor!r} is not one of the kit's monitors (run 01_import_assets first); "
                          f"expected one of {', '.join(monitors['monitor']) or 'none'}")
    monitor_id = int(found["id"].iloc[0])
    created = DowntimesApi(api_client).create_downtime(body=DowntimeCreateRequest(data=DowntimeCreateRequestData(
        type=DowntimeResourceType.DOWNTIME, attributes=DowntimeCreateRequestAttributes(
            monitor_identifier=DowntimeMonitorIdentifierId(monitor_id=monitor_id), scope="*",
            message=f"Muted by the kit during the {phase} phase",
            schedule=DowntimeScheduleOneTimeCreateUpdateRequest(start=datetime.fromtimestamp(start, UTC),
                                                                end=datetime.fromtimestamp(end, UTC))))))
    return PhaseMute(pacing, phase, monitor, monitor_id, str(created.data.id), start, end)


def _iso(ts: int | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
