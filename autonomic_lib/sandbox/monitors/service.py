"""The sandbox's monitor evaluation service: judges every monitor as data arrives, durably.

`MonitorEvaluator` keeps each monitor's group states durably (its evaluation record), writes what the API shows
(the monitor's overall_state and state.groups) and records every transition, all through the monitors backend
(backend.py); it writes a monitor event per transition in the events stream through the logs backend (`events`),
and calls the injected `notify` hook (the automation product's). Log monitors read their logs from that same
backend (log_evaluator.py); other monitor types are stored but not evaluated (unevaluated.py). A background thread runs it once ingest has been
quiet for `quiet_seconds` (so minutes whose data is still arriving are not judged) and at least once per wall-clock
minute; `POST /sandbox/evaluate` (routes.py) runs it synchronously.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Sequence

from autonomic_lib.errors import QueryError
from autonomic_lib.sandbox.logs.backend import Logs
from autonomic_lib.sandbox.metrics.backend import Metrics
from autonomic_lib.sandbox.metrics.store import SeriesPoints
from autonomic_lib.sandbox.monitors.backend import Monitors, transition_of
from autonomic_lib.sandbox.monitors.evaluator import (
    MAX_CATCHUP,
    GroupState,
    MonitorEvalError,
    Transition,
    first_data_time,
    iso,
    metric_names,
    overall_state,
    plan_monitor,
    run_monitor,
    state_from_json,
    state_to_json,
)
from autonomic_lib.sandbox.monitors.log_evaluator import LOG_SOURCE, first_log_time, plan_log_monitor, run_log_monitor
from autonomic_lib.sandbox.monitors.unevaluated import is_evaluated, not_evaluated_reason
from autonomic_lib.sandbox.monitors.silence import SilenceFn, never_silenced

log = logging.getLogger("autonomic_lib.sandbox")
MAX_NOTIFY_ATTEMPTS = 3
Notify = Callable[[dict[str, Any], Transition], None]
_EVENT_TITLES = {"Alert": "Triggered", "Warn": "Warn", "OK": "Recovered", "No Data": "No data"}
_ALERT_TYPES = {"Alert": "error", "Warn": "warning", "OK": "success", "No Data": "warning"}


def _no_notify(monitor: dict[str, Any], transition: Transition) -> None:
    return None


class MonitorEvaluator:
    """Evaluates the sandbox's monitors; thread-safe (one run at a time).

    Usage::

        evaluator = MonitorEvaluator(monitors=monitors, events=logs, metrics=metrics,
                                     notify=lambda monitor, transition: ...)
        evaluator.start()          # background catch-up after ingest goes quiet
        evaluator.run()            # or synchronously, e.g. from POST /sandbox/evaluate
        evaluator.stop()
    """

    def __init__(self, *, monitors: Monitors, events: Logs, metrics: Metrics, notify: Notify | None = None,
                 quiet_seconds: float = 2.0, silence: SilenceFn | None = None):
        self.monitors, self.events, self.metrics = monitors, events, metrics
        self.notify: Notify = notify or _no_notify
        self.silence: SilenceFn = silence or never_silenced  # downtimes (app.py): asked before each notification
        self.quiet_seconds = quiet_seconds
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._written = 0  # ingest generation, bumped by every metric write
        self._done = -1
        self._last_write = 0.0
        self._last_minute = -1
        self._late_lock = threading.Lock()
        self._oldest: dict[str, int] = {}  # metric -> oldest timestamp written since the last run
        self._attempts: dict[tuple[int, int, str], int] = {}  # failed notification attempts per transition
        metrics.store.on_write(self._learn)

    def _learn(self, batch: Sequence[SeriesPoints]) -> None:
        """Learn of new data (the store's on-write hook): what was written, and the oldest minute it touches."""
        with self._late_lock:
            for item in batch:
                if len(item.timestamps):
                    oldest = int(item.timestamps.min())
                    self._oldest[item.metric] = min(oldest, self._oldest.get(item.metric, oldest))
        self._written += 1
        self._last_write = time.monotonic()

    def learn_logs(self, docs: Sequence[dict[str, Any]]) -> None:
        """Learn of new logs (the logs backend's on-ingest hook, wired in app.py): log monitors evaluate them."""
        if docs:
            oldest = min(int(doc["k"][0]) // 1000 for doc in docs)
            with self._late_lock:
                self._oldest[LOG_SOURCE] = min(oldest, self._oldest.get(LOG_SOURCE, oldest))
        self._written += 1
        self._last_write = time.monotonic()

    # ------------------------------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="sandbox-evaluator", daemon=True)
            self._thread.start()

    def new_run(self) -> int:
        """Forget every evaluation, transition and owed notification (`Monitors.clear_evaluations`), under the
        evaluation lock so no run is half-way; returns how many transitions there were."""
        with self._lock:
            with self._late_lock:
                self._oldest.clear()
            self._attempts.clear()
            self._written += 1  # evaluate again once the new run's data arrives
            return self.monitors.clear_evaluations()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _loop(self) -> None:
        known = -1  # how many monitors the last run saw: a new one is evaluated without waiting a minute
        while not self._stop.wait(0.25):
            try:
                quiet = time.monotonic() - self._last_write >= self.quiet_seconds
                minute = int(self.metrics.clock()) // 60
                count = self.monitors.count()
                if quiet and (self._written != self._done or minute != self._last_minute or count != known):
                    known = count
                    self.run()
            except Exception:  # the thread must survive anything; the error is in the log
                log.exception("monitor evaluation failed")

    # ------------------------------------------------------------------------------------------ evaluation
    def run(self, now: float | None = None) -> list[dict[str, Any]]:
        """Evaluate every monitor up to the current minute; returns per monitor what was evaluated."""
        with self._lock:
            generation = self._written
            with self._late_lock:
                oldest, self._oldest = self._oldest, {}
            clock = int(now if now is not None else self.metrics.clock())
            summary = []
            for monitor in self.monitors.search():
                try:
                    report, _ = self._run_one(monitor, clock, oldest)
                except Exception as exc:  # one monitor's bug must not stop the others' evaluation or notifications
                    log.exception("evaluation of monitor %s failed", monitor.get("id"))
                    report = self._failed(monitor, f"internal error: {type(exc).__name__}: {exc}")
                summary.append(report)
            self._deliver(clock)
            self._done, self._last_minute = generation, clock // 60
            return summary

    def _failed(self, monitor: dict[str, Any], reason: str) -> dict[str, Any]:
        """Mark a monitor that could not be evaluated with the reason (GET /sandbox/evaluation shows it)."""
        record = self.monitors.evaluation(monitor["id"]) or {"monitor_id": monitor["id"], "evaluated_until": None,
                                                             "origin": None, "groups": {}}
        self.monitors.save_evaluation(monitor["id"], {**record, "error": reason})
        return {"monitor_id": monitor["id"], "from": None, "to": None, "transitions": 0, "error": reason}

    def _deliver(self, now: float) -> None:
        """Notify every stored transition whose notification is owed, in time order (an outbox: a transition is
        stored with its notification pending, so none is lost to a crash or a failing hook). A notification that
        fails MAX_NOTIFY_ATTEMPTS times is given up, with the reason on the transition. A downtime may mute it,
        hold it (pending until the downtime ends) or move it to the downtime's end (`self.silence`)."""
        pending = sorted(self.monitors.pending_transitions(), key=lambda r: (r["at"], r["monitor_id"], r["group"]))
        for row in pending:
            monitor = self.monitors.get(row["monitor_id"])
            if monitor is None:
                self.monitors.mark_notified(row, error="the monitor was deleted")
                continue
            transition = transition_of(row)
            silence = self.silence(monitor, transition, now)
            if silence is not None:
                if silence.wait:
                    continue
                if silence.deliver is None:
                    self.monitors.mark_notified(row, muted=silence.reason)
                    continue
                transition = silence.deliver
            try:
                self.notify(monitor, transition)
            except Exception as exc:
                key = (row["monitor_id"], row["at"], row["group"])
                self._attempts[key] = self._attempts.get(key, 0) + 1
                log.exception("notification of monitor %s failed (attempt %d)", row["monitor_id"], self._attempts[key])
                if self._attempts[key] >= MAX_NOTIFY_ATTEMPTS:
                    self.monitors.mark_notified(row, error=f"{type(exc).__name__}: {exc}")
                continue
            self.monitors.mark_notified(row, muted=silence.reason if silence else None)

    def _run_one(self, monitor: dict[str, Any], clock: int, oldest: dict[str, int]
                 ) -> tuple[dict[str, Any], list[Transition]]:
        """Evaluate one monitor forward from where it left off; replay it when data landed in evaluated minutes.

        A replay re-evaluates the monitor from its first minute with fresh states, so its history is what the full
        data gives (determinism, whatever the arrival order); transitions that no longer happen are retracted from the
        history and the events stream (a notification already delivered for them cannot be undone).
        """
        monitor_id = monitor["id"]
        record = self.monitors.evaluation(monitor_id) or {"monitor_id": monitor_id, "evaluated_until": None,
                                                          "origin": None, "groups": {}, "error": None}
        report: dict[str, Any] = {"monitor_id": monitor_id, "from": None, "to": None, "transitions": 0}
        if not is_evaluated(monitor):
            return {**report, "not_evaluated": not_evaluated_reason(monitor)}, []
        logs = monitor.get("type") == "log alert"
        try:
            plan = plan_log_monitor(monitor) if logs else plan_monitor(monitor, kinds=self.metrics.kind,
                                                                       store=self.metrics.store)
            last = clock // 60 * 60
            sources = {LOG_SOURCE} if logs else metric_names(plan)
            late = min((oldest[m] for m in sources if m in oldest), default=None)
            done = record["evaluated_until"]
            replay = done is not None and late is not None and late < done - plan.evaluation_delay
            if done is not None and not replay:
                first = int(done) + 60
            else:
                start = first_log_time(plan, self.events, clock) if logs else \
                    first_data_time(plan, self.metrics.store, clock, self.metrics.kind)
                if start is None:
                    return report, []
                first = max(-(-(start + plan.evaluation_delay + 1) // 60) * 60, last - MAX_CATCHUP)
                if replay and record.get("origin") is not None:
                    first = min(first, int(record["origin"]))
                record["origin"] = first
            if first > last:
                return report, []
            states = {} if replay else {k: state_from_json(v) for k, v in record["groups"].items()}
            made = run_log_monitor(plan, self.events, first, last, states) if logs else \
                run_monitor(plan, self.metrics.store, first, last, states, self.metrics.kind)
            record.update(evaluated_until=last, groups={k: state_to_json(v) for k, v in states.items()}, error=None)
            if replay:
                record["replays"] = int(record.get("replays") or 0) + 1
                made = self._retract(monitor_id, made)
        except (MonitorEvalError, QueryError) as exc:
            record["error"] = str(exc)
            self.monitors.save_evaluation(monitor_id, record)
            report["error"] = str(exc)
            return report, []
        self._persist(monitor_id, record, states, made)
        report.update({"from": first, "to": last, "transitions": len(made), "replayed": replay})
        return report, made

    def _retract(self, monitor_id: int, replayed: list[Transition]) -> list[Transition]:
        """Drop stored transitions (and their events) the replay no longer makes; return the ones that are new."""
        stored = {(r["group"], r["at"], r["previous"], r["current"]): r for r in self.monitors.history(monitor_id)}
        keep = {(t.group, t.at, t.previous, t.current) for t in replayed}
        for key, row in stored.items():
            if key not in keep:
                self.monitors.remove_transition(monitor_id, at=row["at"], group=row["group"])
                if row.get("event_id") is not None:
                    self.events.delete_event(row["event_id"])
        return [t for t in replayed if (t.group, t.at, t.previous, t.current) not in stored]

    def _persist(self, monitor_id: int, record: dict[str, Any], states: dict[str, GroupState],
                 made: list[Transition]) -> None:
        monitor = self.monitors.get(monitor_id)  # re-read: a PUT may have changed it meanwhile
        if monitor is None:
            return
        self.monitors.add_transitions(made, event_ids=self._events(monitor, made))
        groups = {key: {"name": key, "status": s.status, "last_triggered_ts": s.last_triggered_ts,
                        "last_notified_ts": s.last_notified_ts, "last_resolved_ts": s.last_resolved_ts,
                        "last_nodata_ts": s.last_nodata_ts} for key, s in sorted(states.items()) if s.status}
        overall = overall_state(states) if groups else monitor.get("overall_state") or "No Data"
        self.monitors.save_state(monitor, overall_state=overall, groups=groups,
                                 changed_at=max((t.at for t in made), default=int(self.metrics.clock())))
        self.monitors.save_evaluation(monitor_id, record)

    def _events(self, monitor: dict[str, Any], made: list[Transition]) -> list[int]:
        """Monitor alert/recovery events in the events stream (the logs backend's, like posted events); their ids.

        Shape (title prefix, alert_type per state, source "monitor", tags) follows Datadog's monitor events as
        commonly seen; the exact title wording is UNCONFIRMED.
        """
        ids: list[int] = []
        for t in made:
            scope = f" on {{{t.group}}}" if t.group != "*" else ""
            value = "no data" if t.value is None else f"{t.value:g}"
            threshold = "" if t.threshold is None else f" (threshold {t.threshold:g})"
            event = self.events.add_event(
                title=f"[{_EVENT_TITLES[t.current]}{scope}] {monitor.get('name')}",
                text=f"%%% \nMonitor {monitor['id']} went from {t.previous} to {t.current}: value {value}"
                     f"{threshold} over {iso(t.window_start)} to {iso(t.window_end)}.\n %%%",
                date_happened=t.at, priority="normal", alert_type=_ALERT_TYPES[t.current], source_type_name="monitor",
                aggregation_key=f"monitor:{monitor['id']}:{t.group}",
                tags=sorted({*monitor.get("tags", []), *t.group_tags, f"monitor:{monitor['id']}",
                             f"monitor_id:{monitor['id']}"}))
            ids.append(int(event["id"]))
        return ids
