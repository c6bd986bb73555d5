"""DogStatsD datagrams parsed into typed metric samples, events and service checks. Pure: no I/O, no clock.

Every rule below was checked against three public sources, cited by these short names:

- DOC: Datadog's "Datagram Format and Shell Usage" page,
  https://docs.datadoghq.com/developers/dogstatsd/datagram_shell/ (source: DataDog/documentation
  content/en/developers/dogstatsd/datagram_shell.md): v1.1 value packing (Agent >= 7.25, every type but SET),
  v1.2 `|c:<container id>` (Agent >= 7.35, used only with `dogstatsd_origin_detection_client`), v1.3
  `|T<unix timestamp>` (Agent >= 7.40: no aggregation, "Only GAUGE and COUNT metrics are supported").
- AGENT: the Agent's parser, DataDog/datadog-agent comp/dogstatsd/server/impl/ parse.go (optional fields: `#`, `@`,
  `T`, `c:`, `e:`, `card:`), parse_metrics.go, parse_events.go, parse_service_checks.go, and server.go
  (`nextMessage`: one message per line, a trailing `\\r` dropped, empty lines skipped).
- CLIENT: the `datadog` package 0.56.0, datadog/dogstatsd/base.py (`_serialize_metric`, `event`, `service_check`).

Where the sandbox is stricter than the Agent it says so: a refusal is counted and logged by the backend, which
beats a sample quietly stored wrong. Everything is parsed with str.split/partition and slicing; the only regular
expressions are single negated character classes in the name and tag clean-up (linear, nothing to backtrack).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal

MetricType = Literal["c", "g", "ms", "h", "s", "d"]
# DOC + AGENT parse_metrics.go: c COUNT, g GAUGE, ms TIMER, h HISTOGRAM, s SET, d DISTRIBUTION; nothing else.
METRIC_TYPES: frozenset[str] = frozenset(("c", "g", "ms", "h", "s", "d"))
SERVICE_CHECK_STATUSES = {"0": 0, "1": 1, "2": 2, "3": 3}  # DOC: OK, WARNING, CRITICAL, UNKNOWN
EVENT_PRIORITIES = frozenset(("normal", "low"))  # DOC + AGENT parse_events.go
EVENT_ALERT_TYPES = frozenset(("error", "warning", "info", "success"))
MAX_NAME_LENGTH = 200  # metric names: Datadog's naming rules, as the sandbox's HTTP intake (metrics/intake.py)
MAX_TAG_LENGTH = 200
_FINITE = 1.7976931348623157e308
_FIRST = frozenset("+-.0123456789")  # how a number may start and end: not 'nan', 'inf' or a space
_LAST = frozenset(".0123456789")
_NAME_BAD_CHARS = re.compile(r"[^A-Za-z0-9_.]")  # one character class: linear time on any text
_TAG_BAD_CHARS = re.compile(r"[^\w\-:./]", re.UNICODE)
_CACHE_LIMIT = 8192  # distinct names, tag fields and messages remembered (the Agent interns 4096 strings a worker)


class Malformed(ValueError):
    """A message the sandbox refuses; `reason` says why, for the counted and rate-limited log line."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class MetricSample:
    """One metric message: a name, its type and one value or several (v1.1 packing), tags, sample rate, timestamp.

    Never modified once made: the parser hands out the same object for the same message text.

    `values` is empty for a set, whose member is `set_value` (a set's value is an opaque string, AGENT parse.go).
    `tags` are normalised like the HTTP intake's (lower case, other characters to `_`), sorted and unique.
    `timestamp` is the v1.3 `T` field (epoch seconds), None when absent.
    """

    name: str
    type: str
    values: tuple[float, ...]
    set_value: str
    sample_rate: float
    tags: tuple[str, ...]
    timestamp: int | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """An `_e{...}` message. Optional fields with a bad value are left out and named in `ignored` (as the Agent
    does: it logs a warning and keeps the event, AGENT parse_events.go `applyEventOptionalField`)."""

    title: str
    text: str
    timestamp: int | None = None
    hostname: str | None = None
    aggregation_key: str | None = None
    priority: str = "normal"
    source_type_name: str | None = None
    alert_type: str = "info"
    tags: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ServiceCheck:
    """An `_sc|name|status|...` message; optional fields with a bad value are named in `ignored`, as for events."""

    name: str
    status: int
    timestamp: int | None = None
    hostname: str | None = None
    message: str | None = None
    tags: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()


@dataclass
class Packet:
    """What one datagram held: its messages by kind, and each refused line as (excerpt, reason)."""

    samples: list[MetricSample] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    checks: list[ServiceCheck] = field(default_factory=list)
    malformed: list[tuple[str, str]] = field(default_factory=list)


class Parser:
    """Parses datagrams; remembers normalised names and tag fields (bounded), as the Agent interns strings.

    Usage::

        packet = Parser().parse(b"page.views:1|c|#env:demo\\nfuel.level:0.5|g")
        packet.samples[0].name, packet.samples[0].values   # ("page.views", (1.0,))
    """

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._tags: dict[str, tuple[str, ...]] = {}
        self._lines: dict[str, MetricSample] = {}  # a repeated message (an increment) is parsed once

    def parse(self, data: bytes) -> Packet:
        """Every message of one datagram; never raises on any input (a bad line lands in `malformed`)."""
        packet = Packet()
        try:
            lines = data.decode("utf-8").split("\n")  # DOC: "The raw datagrams are encoded in UTF-8"
        except UnicodeDecodeError:
            lines = []
            for raw in data.split(b"\n"):
                try:
                    lines.append(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    packet.malformed.append((_excerpt(raw.decode("utf-8", "replace")), "not UTF-8"))
        samples, parse_metric, known = packet.samples, self.parse_metric, self._lines
        for line in lines:
            if not line:
                continue  # AGENT server.go: empty messages are skipped
            if line[-1] == "\r":
                line = line[:-1]  # AGENT server.go dropCR
                if not line:
                    continue
            sample = known.get(line)
            if sample is not None:
                samples.append(sample)
                continue
            try:
                if line[0] != "_":
                    sample = parse_metric(line)
                    if len(known) >= _CACHE_LIMIT:
                        known.clear()
                    known[line] = sample
                    samples.append(sample)
                elif line.startswith("_e{"):  # AGENT parse.go findMessageType: the prefixes decide
                    packet.events.append(parse_event(line.encode("utf-8")))
                elif line.startswith("_sc"):
                    packet.checks.append(parse_service_check(line))
                else:
                    samples.append(parse_metric(line))  # refused: a name starts with a letter
            except Malformed as exc:
                packet.malformed.append((_excerpt(line), exc.reason))
        return packet

    def parse_metric(self, line: str) -> MetricSample:
        """`<name>:<value>[:<value>...]|<type>[|@<rate>][|#<tags>][|c:<container>][|T<timestamp>]...`.

        Optional fields come in any order; unknown ones are ignored (AGENT parse.go's switch has no default), so
        are `c:` (v1.2 container id), `e:` and `card:` (origin detection, off by default in the Agent).
        """
        head, bar, rest = line.partition("|")
        if not bar:
            raise Malformed("no '|<type>' after the value")  # AGENT hasMetricSampleFormat: at least one '|'
        raw_name, colon, raw_value = head.partition(":")
        if not raw_name or not raw_value:  # AGENT parseMetricSampleNameAndRawValue
            raise Malformed("expected <name>:<value>")
        mtype, _, rest = rest.partition("|")
        if mtype not in METRIC_TYPES:
            raise Malformed(f"unknown metric type {mtype[:20]!r} (expected c, g, ms, h, s or d)")
        name = self._name(raw_name)
        tags: tuple[str, ...] = ()
        rate = 1.0
        timestamp: int | None = None
        if rest:
            for option in rest.split("|"):
                first = option[:1]
                if first == "#":  # tags; a repeated field replaces the earlier one, as in the Agent
                    tags = self._tag_field(option[1:])
                elif first == "@":
                    rate = _sample_rate(option[1:])
                elif first == "T":  # v1.3 (read when dogstatsd_no_aggregation_pipeline, on by default)
                    timestamp = _timestamp(option[1:])
        if mtype == "s":  # a set's value is one opaque member, never packed (AGENT parse.go)
            return MetricSample(name, mtype, (), raw_value, rate, tags, timestamp)
        if ":" in raw_value:  # v1.1 packing; empty values ('1::2') are skipped (AGENT parseFloat64List)
            values = tuple(_number(v) for v in raw_value.split(":") if v)
            if not values:
                raise Malformed("no value in a packed value list")
        else:
            values = (_number(raw_value),)
        return MetricSample(name, mtype, values, "", rate, tags, timestamp)

    def _name(self, raw: str) -> str:
        name = self._names.get(raw)
        if name is None:
            name = normalize_name(raw)
            if len(self._names) >= _CACHE_LIMIT:
                self._names.clear()
            self._names[raw] = name
        return name

    def _tag_field(self, raw: str) -> tuple[str, ...]:
        tags = self._tags.get(raw)
        if tags is None:
            tags = normalize_tags(raw.split(","))
            if len(self._tags) >= _CACHE_LIMIT:
                self._tags.clear()
            self._tags[raw] = tags
        return tags


def normalize_name(raw: str) -> str:
    """A metric name as Datadog stores it: it must start with a letter and have at most 200 characters; any
    character but ASCII letters, digits, `_` and `.` becomes `_` (DOC "metric naming policy"; the same rule as
    the sandbox's HTTP intake, so a series is one series whichever way it came in)."""
    if not ("a" <= raw[0] <= "z" or "A" <= raw[0] <= "Z") or len(raw) > MAX_NAME_LENGTH:
        raise Malformed(f"metric name {raw[:80]!r} must start with a letter and have at most "
                        f"{MAX_NAME_LENGTH} characters")
    return _NAME_BAD_CHARS.sub("_", raw)


def normalize_tags(raw: list[str]) -> tuple[str, ...]:
    """Tags as the HTTP intake stores them: stripped, lower case, unsupported characters to `_`, at most 200
    characters, no trailing colon, empty ones dropped; sorted and unique (a series is its set of tags)."""
    out = set()
    for tag in raw:
        tag = _TAG_BAD_CHARS.sub("_", tag.strip().lower())[:MAX_TAG_LENGTH].rstrip(":")
        if tag:
            out.add(tag)
    return tuple(sorted(out))


def parse_event(line: bytes) -> Event:
    """`_e{<title bytes>,<text bytes>}:<title>|<text>[|d:..][|h:..][|k:..][|p:..][|s:..][|t:..][|#tags]`.

    The lengths count UTF-8 bytes (CLIENT: `len(title.encode('utf8'))`; AGENT slices bytes). Stricter than the
    Agent, which slices blindly: the title and text must be followed by `|` or the end of the line, so a wrong
    length is refused rather than stored as a garbled title. `\\\\n` in title or text is a line break (DOC, AGENT
    cleanEventText).
    """
    header, colon, body = line.partition(b":")
    if not colon or not header.startswith(b"_e{") or len(header) < 7 or not header.endswith(b"}"):
        raise Malformed("event header must be _e{<title length>,<text length>}:")  # AGENT parseHeader: >= 7
    raw_title_len, comma, raw_text_len = header[3:-1].partition(b",")
    if not comma:
        raise Malformed("event header must be _e{<title length>,<text length>}:")
    title_len, text_len = _length(raw_title_len), _length(raw_text_len)
    if title_len == 0:
        raise Malformed("event title is empty")  # AGENT parseHeader
    end = title_len + 1 + text_len
    if len(body) < end:
        raise Malformed("event is shorter than its header's lengths")
    if body[title_len:title_len + 1] != b"|" or body[end:end + 1] not in (b"", b"|"):
        raise Malformed("event title or text length does not match the header (lengths are in UTF-8 bytes)")
    try:
        title = body[:title_len].decode("utf-8").replace("\\n", "\n")
        text = body[title_len + 1:end].decode("utf-8").replace("\\n", "\n")
        options = body[end + 1:].decode("utf-8").split("|") if len(body) > end else []
    except UnicodeDecodeError:
        raise Malformed("event is not UTF-8 where its lengths cut it") from None
    event = Event(title, text)
    ignored: list[str] = []
    for option in options:
        key, value = option[:2], option[2:]
        if key == "d:" and _is_int(value):
            event = replace(event, timestamp=int(value))
        elif key == "h:":
            event = replace(event, hostname=value)
        elif key == "k:":
            event = replace(event, aggregation_key=value)
        elif key == "p:" and value in EVENT_PRIORITIES:
            event = replace(event, priority=value)
        elif key == "s:":
            event = replace(event, source_type_name=value)
        elif key == "t:" and value in EVENT_ALERT_TYPES:
            event = replace(event, alert_type=value)
        elif option.startswith("#"):
            event = replace(event, tags=_raw_tags(option[1:]))
        elif key in ("d:", "p:", "t:"):
            ignored.append(_excerpt(option))  # AGENT: a warning, and the event without that field
    return replace(event, ignored=tuple(ignored)) if ignored else event


def parse_service_check(line: str) -> ServiceCheck:
    """`_sc|<name>|<status>[|d:<timestamp>][|h:<host>][|#<tags>][|m:<message>]`.

    Fields are split on `|` like the Agent does (AGENT parse_service_checks.go), so a message holding `|` is cut
    there; DOC asks for `m:` last. The status is exactly one of 0, 1, 2, 3.
    """
    if not line.startswith("_sc|"):
        raise Malformed("service check must start with '_sc|'")
    parts = line[4:].split("|")
    if len(parts) < 2:  # AGENT hasServiceCheckFormat: at least two separators
        raise Malformed("service check needs a name and a status")
    name, raw_status = parts[0], parts[1]
    if not name:
        raise Malformed("service check name is empty")
    status = SERVICE_CHECK_STATUSES.get(raw_status)
    if status is None:
        raise Malformed(f"service check status {raw_status[:20]!r} is not 0, 1, 2 or 3")
    check = ServiceCheck(name, status)
    ignored: list[str] = []
    for option in parts[2:]:
        key, value = option[:2], option[2:]
        if key == "d:" and _is_int(value):
            check = replace(check, timestamp=int(value))
        elif key == "h:":
            check = replace(check, hostname=value)
        elif key == "m:":
            check = replace(check, message=value)
        elif option.startswith("#"):
            check = replace(check, tags=_raw_tags(option[1:]))
        elif key == "d:":
            ignored.append(_excerpt(option))
    return replace(check, ignored=tuple(ignored)) if ignored else check


def _number(text: str) -> float:
    """A finite float written as Go's ParseFloat reads it. Stricter than Python's float(): no NaN or infinity
    (the store cannot keep them; the HTTP intake refuses them too), no `1_000`, no spaces around."""
    if text[0] in _FIRST and text[-1] in _LAST and "_" not in text:
        try:
            value = float(text)
        except ValueError:
            pass
        else:
            if -_FINITE <= value <= _FINITE:
                return value
    raise Malformed(f"value {text[:40]!r} is not a finite number")


def _sample_rate(text: str) -> float:
    """DOC: "A float between 0 and 1, inclusive". Stricter than the Agent, which takes any float: 0 would make
    a counter infinite (value / rate) and a rate above 1 gives a histogram sample no weight, so both are refused."""
    rate = _number(text) if text else -1.0
    if not 0.0 < rate <= 1.0:
        raise Malformed(f"sample rate {text[:20]!r} must be in (0, 1]")
    return rate


def _timestamp(text: str) -> int:
    """v1.3: a positive integer of epoch seconds (AGENT parse.go: "dogstatsd timestamp should be > 0")."""
    if not _is_int(text) or int(text) < 1:
        raise Malformed(f"timestamp {text[:20]!r} must be a positive integer of epoch seconds")
    return int(text)


def _length(raw: bytes) -> int:
    if not (raw.isdigit() and len(raw) <= 6):  # a datagram is at most 8 KiB; bytes.isdigit is ASCII-only
        raise Malformed("event header lengths must be non-negative integers")
    return int(raw)


def _is_int(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 18


def _raw_tags(text: str) -> tuple[str, ...]:
    """Event and service check tags as sent (the events API keeps them as given), empty ones dropped."""
    return tuple(t for t in text.split(",") if t)


def _excerpt(line: str) -> str:
    return line if len(line) <= 120 else line[:117] + "..."
