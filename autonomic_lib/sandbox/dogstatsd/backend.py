"""The DogStatsD product's backend: datagrams in, aggregated points to the metrics product, events to the events
stream, service checks kept as documents; every refusal counted, and logged at a bounded rate.

What the sandbox does like the Agent and where it differs (protocol.py and aggregator.py cite the sources):

- Hosts: the Agent tags every metric with its own hostname unless the message has a `host:` tag
  (comp/dogstatsd/server/impl/enrich.go `extractTagsMetadata`). The sandbox has no host of its own and adds
  none: a series carries `host:<name>` only when the message did, which is how the sandbox stores a series'
  host whatever the intake, so `{host:web-1}` selects it as on Datadog. Events and service checks take `h:`, else
  the value of a `host:` tag (which then leaves their tags), as the Agent does.
- Distributions (`d`): the sandbox has no distribution type (Datadog keeps them as global sketches, queried
  with percentiles); they are refused, counted as unsupported and logged once per metric name.
- Timestamped samples (v1.3): outside the HTTP intake's window (1 h in the past unless the metric has late
  data enabled, 10 min in the future: metrics/intake.py) they are refused and counted, as that intake refuses them.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

from autonomic_lib.sandbox.dogstatsd.aggregator import COUNTER_EXPIRY, INTERVAL, Aggregator
from autonomic_lib.sandbox.dogstatsd.protocol import Event, MetricSample, Parser, ServiceCheck
from autonomic_lib.sandbox.logs.backend import Logs
from autonomic_lib.sandbox.metrics.backend import Metrics
from autonomic_lib.sandbox.metrics.intake import MAX_FUTURE_SECONDS, MAX_PAST_SECONDS
from autonomic_lib.sandbox.storage.documents import DocumentStore

log = logging.getLogger("autonomic_lib.sandbox.dogstatsd")
SERVICE_CHECK = "service-check"  # this product's document kind
_UNSUPPORTED_NAMES_KEPT = 10_000


@dataclass
class Counters:
    """What the intake saw. Each field is written by one thread only (the listener's receiver or its worker)."""

    received: int = 0  # datagrams read from the socket
    received_bytes: int = 0
    metrics: int = 0  # metric samples parsed (a packed message counts once per value, as the Agent counts)
    events: int = 0
    service_checks: int = 0
    malformed: int = 0  # lines refused by the parser
    unsupported: int = 0  # samples parsed but not kept: distributions, timestamped types the Agent discards
    out_of_window: int = 0  # timestamped samples too old or too far in the future
    dropped_contexts: int = 0  # samples of a new context beyond the aggregator's bound
    dropped_queue_full: int = 0  # datagrams dropped because the worker's queue was full
    dropped_too_large: int = 0  # datagrams longer than the maximum size
    socket_drops: int = 0  # datagrams the kernel dropped, its socket buffer full (Linux's /proc/net/udp)
    points_written: int = 0
    flushes: int = 0
    errors: int = 0  # an ingest or flush that failed (logged with its traceback)


class ThrottledLog:
    """Warnings at a bounded rate: `burst` lines a `window` of seconds, then a count of the lines held back.

    Usage::

        throttled = ThrottledLog(log, burst=10, window=60)
        throttled.warning("malformed DogStatsD line %r: %s", line, reason)
    """

    def __init__(self, logger: logging.Logger, *, burst: int = 10, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self.logger, self.burst, self.window, self.clock = logger, burst, window, clock
        self._window_start = -float("inf")
        self._lines = 0
        self.suppressed = 0
        self._lock = threading.Lock()

    def warning(self, message: str, *args: object, exc_info: bool = False) -> bool:
        """Log the line unless this window's burst is spent; True when it was logged."""
        with self._lock:
            now = self.clock()
            if now - self._window_start >= self.window:
                if self.suppressed:
                    self.logger.warning("%d more similar DogStatsD warnings were not logged in the last %.0f s",
                                        self.suppressed, self.window)
                self._window_start, self._lines, self.suppressed = now, 0, 0
            if self._lines >= self.burst:
                self.suppressed += 1
                return False
            self._lines += 1
        self.logger.warning(message, *args, exc_info=exc_info)
        return True


class DogStatsD:
    """Parse, aggregate and flush DogStatsD traffic; the listener feeds `ingest` and calls `flush` every second.

    Usage::

        dsd = DogStatsD(metrics, logs, documents, clock=time.time)
        dsd.ingest(b"page.views:1|c|#env:demo")
        dsd.flush()              # points of the 10 s buckets closed so far, into the metrics store
        dsd.flush(force=True)    # also the open bucket (the listener does it when it stops)
        dsd.stats()              # the counters GET /sandbox/dogstatsd shows
    """

    def __init__(self, metrics: Metrics, logs: Logs, documents: DocumentStore, *,
                 clock: Callable[[], float] = time.time, interval: int = INTERVAL):
        self.metrics, self.logs, self._documents, self.clock = metrics, logs, documents, clock
        self.parser = Parser()
        self.aggregator = Aggregator(clock=clock, interval=interval)
        self.counters = Counters()
        self.listening: dict[str, Any] | None = None  # set by the listener: host, port, its bounds
        self.throttled = ThrottledLog(log)
        self._unsupported_names: set[str] = set()
        self._lock = threading.Lock()  # the aggregator, between the worker and a flush asked for over HTTP
        self._flushing = threading.Lock()  # one flush at a time, its write included: the last state written wins

    # ------------------------------------------------------------------------------------------------ intake
    def ingest(self, datagram: bytes) -> None:
        """One datagram: every metric into the aggregator, events and service checks stored, refusals counted."""
        packet = self.parser.parse(datagram)
        counters, samples = self.counters, packet.samples
        if samples:
            counters.metrics += sum([len(s.values) or 1 for s in samples])
            plain = [s for s in samples if s.timestamp is None and s.type != "d"]
            now = self.clock()
            with self._lock:
                refused = self.aggregator.add_many(plain, now)
                if len(plain) < len(samples):
                    for sample in samples:
                        if sample.timestamp is not None or sample.type == "d":
                            refused += not self._add_special(sample, now)
            if refused:
                counters.dropped_contexts += refused
                self.throttled.warning("DogStatsD: %d samples dropped, more than %d contexts in one bucket",
                                       refused, self.aggregator.max_contexts)
        for event in packet.events:
            self.add_event(event)
        for check in packet.checks:
            self.add_service_check(check)
        if packet.malformed:
            counters.malformed += len(packet.malformed)
            for line, reason in packet.malformed:
                self.throttled.warning("malformed DogStatsD message %r: %s", line, reason)

    def _add_special(self, sample: MetricSample, now: float) -> bool:
        """A distribution or a timestamped sample: refused and counted, or passed on; False when out of room."""
        if sample.type == "d":
            self._unsupported(sample, "distributions (d) are not supported: the sandbox has no distribution type")
        elif sample.type not in ("c", "g"):
            self._unsupported(sample, "timestamped samples are only gauges and counts; the Agent discards others")
        elif not self._in_window(sample.name, sample.timestamp or 0, now):
            self.counters.out_of_window += len(sample.values)
            self.throttled.warning("DogStatsD sample of %s at %d is outside the intake window (1 h back unless late "
                                   "data is enabled for it, 10 min ahead)", sample.name, sample.timestamp)
        else:
            return self.aggregator.add(sample, now)
        return True

    def _unsupported(self, sample: MetricSample, why: str) -> None:
        self.counters.unsupported += len(sample.values) or 1
        if sample.name not in self._unsupported_names and len(self._unsupported_names) < _UNSUPPORTED_NAMES_KEPT:
            self._unsupported_names.add(sample.name)
            log.warning("DogStatsD metric %s refused (logged once per metric): %s", sample.name, why)

    def _in_window(self, metric: str, ts: int, now: float) -> bool:
        if ts > now + MAX_FUTURE_SECONDS:
            return False
        return ts >= now - MAX_PAST_SECONDS or self.metrics.policy.accepts_late(metric)

    def add_event(self, event: Event) -> dict[str, Any]:
        """Store an event in the events stream (the logs product), as the Agent forwards it to the events intake."""
        self._ignored("event", event.title, event.ignored)
        host, tags = _host_and_tags(event.hostname, event.tags)
        fields: dict[str, Any] = {"priority": event.priority, "tags": tags, "alert_type": event.alert_type}
        for name, value in (("host", host), ("aggregation_key", event.aggregation_key),
                            ("source_type_name", event.source_type_name)):
            if value:
                fields[name] = value
        happened = event.timestamp if event.timestamp else int(self.clock())
        stored = self.logs.add_event(title=event.title, text=event.text, date_happened=happened, **fields)
        self.counters.events += 1  # once stored: whoever reads the counter finds the event
        return stored

    def add_service_check(self, check: ServiceCheck) -> dict[str, Any]:
        """Keep a service check run as a document, shaped like the body of POST /api/v1/check_run."""
        self._ignored("service check", check.name, check.ignored)
        host, tags = _host_and_tags(check.hostname, check.tags)
        ts = check.timestamp if check.timestamp else int(self.clock())
        doc_id = self._documents.next_id(SERVICE_CHECK)
        doc = {"id": doc_id, "check": check.name, "status": check.status, "host_name": host, "timestamp": ts,
               "message": check.message or "", "tags": tags}
        self._documents.put(SERVICE_CHECK, doc_id, doc, ts=ts * 1000)
        self.counters.service_checks += 1
        return doc

    def _ignored(self, what: str, name: str, fields: tuple[str, ...]) -> None:
        for option in fields:
            self.throttled.warning("DogStatsD %s %r: optional field %r has an invalid value and was ignored",
                                   what, name, option)

    # ------------------------------------------------------------------------------------------------ output
    def flush(self, *, force: bool = False) -> int:
        """Write the points of the closed buckets (with `force`, of the open ones too); returns how many.

        Flushes are serialised with their writes, so a bucket sent twice (open, then closed) is stored in the
        order it was taken; samples keep coming in meanwhile (only taking the batch holds the aggregator).
        """
        with self._flushing:
            with self._lock:
                batch = self.aggregator.flush(force=force)
            self.counters.flushes += 1
            if not batch:
                return 0
            written = self.metrics.write(batch)
            self.counters.points_written += written
            return written

    def stats(self) -> dict[str, Any]:
        """The intake's counters and settings (GET /sandbox/dogstatsd)."""
        with self._lock:
            pending = self.aggregator.pending()
        return {"listening": self.listening is not None, **(self.listening or {}), "flush_interval": self.aggregator.interval,
                "counter_expiry": COUNTER_EXPIRY, "pending_contexts": pending,
                "suppressed_log_lines": self.throttled.suppressed, "counters": asdict(self.counters)}

    def service_checks(self, *, start: int, end: int, check: str | None = None) -> list[dict[str, Any]]:
        """Service check runs timed in [start, end] (epoch s), newest first, optionally of one check name."""
        docs = self._documents.list(SERVICE_CHECK, since=start * 1000, until=(end + 1) * 1000)
        found = [d for d in docs if check is None or d["check"] == check]
        return sorted(found, key=lambda d: (d["timestamp"], d["id"]), reverse=True)


def _host_and_tags(hostname: str | None, tags: tuple[str, ...]) -> tuple[str | None, list[str]]:
    """`h:` wins; else the value of the last `host:` tag, and host tags leave the tags (enrich.go
    `extractTagsMetadata`)."""
    from_tags = None
    kept = []
    for tag in tags:
        if tag.startswith("host:"):
            from_tags = tag[5:]
        else:
            kept.append(tag)
    return hostname or from_tags or None, kept
