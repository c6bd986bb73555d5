"""Log analytics (`POST /api/v2/logs/analytics/aggregate`) over the stored logs: computes, nested group-bys, series.
The same engine answers `logs` queries of `/api/v2/query/timeseries` and `/scalar` (formula_aggregation; the
metrics product reaches it through the source app.py wires, and answers each such query alone: no formulas over it).

The request and answer follow the client 2.62.0's models (`LogsAggregateRequest`, `LogsCompute`, `LogsGroupBy`,
`LogsAggregateSort`; `LogsAggregateResponse`, `LogsAggregateBucket`, `LogsAggregateBucketValueTimeseriesPoint`) and
the API reference (https://docs.datadoghq.com/api/latest/logs/#aggregate-events): `compute[].type` defaults to
total, a timeseries' interval to 150 points over the range, `group_by[].limit` to 10 with at most 10 000 buckets
(the product of the limits), `sort.type` to alphabetical (the Go client's default).

Semantics: a facet is `service`, `host`, `source`, `status`, a tag key (`env`: the values of its `env:` tags) or an
`@attribute.path`; a log with several values of a facet falls in each one's group, one without falls in the
`missing` group if given, else in none. Group-bys nest as in the Log Explorer: the top `limit` values of the first
facet, within each the top of the next. A measure (`metric`) is an `@attribute` taken as a number.

UNCONFIRMED, sandbox choices: computes are named `c0`, `c1`, ... in order; a group-by without `sort` keeps its
top groups by count, descending; an order left out is ascending for alphabetical and descending for a measure;
percentiles interpolate linearly; `total` adds a bucket over every log of its level, labelled with its value
(`__TOTAL__` for true). Refused with a 400 naming them: `histogram`, `page.cursor` (the
sandbox never pages buckets), more than MAX_LOGS logs in the range or MAX_GROUPS distinct groups of one facet.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.http.params import int_field, shorten
from autonomic_lib.sandbox.logs.search import iso_ms

AGGREGATIONS = ("count", "cardinality", "pc75", "pc90", "pc95", "pc98", "pc99", "sum", "min", "max", "avg", "median")
MAX_BUCKETS = 10_000  # "at most 10000 buckets are allowed ... the product of limits must not exceed 10000"
DEFAULT_POINTS = 150  # "Defaults to a resolution of 150 points"
MAX_POINTS = 1500  # sandbox bound on a timeseries' buckets (ten times the default resolution)
MAX_COMPUTES, MAX_GROUP_BYS = 10, 4  # sandbox bounds (Datadog documents none)
MAX_LOGS = 200_000  # sandbox bound: logs read by one aggregation
MAX_GROUPS = 100_000  # sandbox bound: distinct values of one facet among the logs of one group
_INTERVAL = re.compile(r"([0-9]{1,9})(ms|s|m|h|d|w)?")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
TOTAL_LABEL = "__TOTAL__"  # UNCONFIRMED: the label of a `"total": true` bucket
_RESERVED = {"service": "service", "host": "hostname", "source": "ddsource", "status": "status"}
Value = str | float | int


@dataclass(frozen=True)
class Compute:
    name: str
    aggregation: str
    metric: str | None
    interval_ms: int | None  # None: a total


@dataclass(frozen=True)
class GroupBy:
    facet: str
    limit: int
    missing: Value | None
    sort_type: str  # "alphabetical" | "measure"
    sort_order: str  # "asc" | "desc"
    sort_aggregation: str
    sort_metric: str | None
    total: Value | None = None  # the label of a bucket over every log of the level, when asked for


@dataclass(frozen=True)
class Aggregation:
    computes: tuple[Compute, ...]
    group_bys: tuple[GroupBy, ...]


# ------------------------------------------------------------------------------------------ the request
def parse_aggregation(body: dict[str, Any], start_ms: int, end_ms: int) -> Aggregation:
    """The computes and group-bys of a LogsAggregateRequest; a 400 naming the field for what is malformed."""
    raw_computes = body.get("compute", [{"aggregation": "count"}])
    if not isinstance(raw_computes, list) or not 1 <= len(raw_computes) <= MAX_COMPUTES:
        raise IntakeError(400, f"compute must be an array of 1 to {MAX_COMPUTES} computes")
    computes = tuple(_compute(c, f"compute[{i}]", i, end_ms - start_ms) for i, c in enumerate(raw_computes))
    raw_groups = body.get("group_by", [])
    if not isinstance(raw_groups, list) or len(raw_groups) > MAX_GROUP_BYS:
        raise IntakeError(400, f"group_by must be an array of at most {MAX_GROUP_BYS} group-bys")
    group_bys = tuple(_group_by(g, f"group_by[{i}]") for i, g in enumerate(raw_groups))
    if math.prod(g.limit for g in group_bys) > MAX_BUCKETS:
        raise IntakeError(400, f"the product of the group_by limits is {math.prod(g.limit for g in group_bys)}; at "
                               f"most {MAX_BUCKETS} buckets are allowed")
    if (body.get("page") or {}) != {} and (not isinstance(body["page"], dict) or body["page"].get("cursor")):
        raise IntakeError(400, "page.cursor: the sandbox returns every bucket at once and never a cursor")
    return Aggregation(computes, group_bys)


def _aggregation(value: Any, where: str) -> str:
    if not isinstance(value, str) or value not in AGGREGATIONS:
        raise IntakeError(400, f"{where} must be one of {', '.join(AGGREGATIONS)}, got {shorten(value)}")
    return value


def _metric(value: Any, aggregation: str, where: str) -> str | None:
    if value is None:
        if aggregation not in ("count",):
            raise IntakeError(400, f"{where} is required for the {aggregation} aggregation")
        return None
    if not isinstance(value, str) or not value:
        raise IntakeError(400, f"{where} must be a facet or measure name, got {shorten(value)}")
    if aggregation not in ("count", "cardinality") and not value.startswith("@"):
        raise IntakeError(400, f"{where} {value!r:.60}: a measure is an @attribute (like @duration)")
    return value


def _compute(raw: Any, where: str, index: int, span_ms: int) -> Compute:
    if not isinstance(raw, dict):
        raise IntakeError(400, f"{where} must be an object")
    aggregation = _aggregation(raw.get("aggregation"), f"{where}.aggregation")
    metric = _metric(raw.get("metric"), aggregation, f"{where}.metric")
    kind = raw.get("type", "total")
    if kind not in ("total", "timeseries"):
        raise IntakeError(400, f"{where}.type must be total or timeseries, got {shorten(kind)}")
    interval = None
    if kind == "timeseries":
        text = raw.get("interval")
        if text is None:
            interval = max(1000, -(-span_ms // DEFAULT_POINTS) // 1000 * 1000)
        else:
            m = _INTERVAL.fullmatch(text) if isinstance(text, str) else None
            if m is None or int(m.group(1)) == 0:
                raise IntakeError(400, f"{where}.interval must be a duration like 30s, 5m or 1h, got {shorten(text)}")
            interval = int(m.group(1)) * _UNIT_MS[m.group(2) or "ms"]
        if span_ms // interval + 1 > MAX_POINTS:
            raise IntakeError(400, f"{where}.interval makes {span_ms // interval + 1} buckets; the sandbox computes "
                                   f"at most {MAX_POINTS}")
    return Compute(f"c{index}", aggregation, metric, interval)


def _group_by(raw: Any, where: str) -> GroupBy:
    if not isinstance(raw, dict):
        raise IntakeError(400, f"{where} must be an object")
    facet = raw.get("facet")
    if not isinstance(facet, str) or not facet or facet == "@":
        raise IntakeError(400, f"{where}.facet is required: a facet name (service, a tag key or an @attribute)")
    if raw.get("histogram") is not None:
        raise IntakeError(400, f"{where}.histogram is not supported by the sandbox")
    total = raw.get("total")
    if total is not None and not isinstance(total, (bool, str, int, float)):
        raise IntakeError(400, f"{where}.total must be a boolean, a string or a number")
    total = TOTAL_LABEL if total is True else None if total is False else total
    limit = int_field(raw.get("limit", 10), f"{where}.limit", low=1, high=MAX_BUCKETS)
    missing = raw.get("missing")
    if missing is not None and (not isinstance(missing, (str, int, float)) or isinstance(missing, bool)):
        raise IntakeError(400, f"{where}.missing must be a string or a number")
    sort = raw.get("sort")
    if sort is None:
        return GroupBy(facet, limit, missing, "measure", "desc", "count", None, total)
    if not isinstance(sort, dict):
        raise IntakeError(400, f"{where}.sort must be an object")
    sort_type = sort.get("type", "alphabetical")
    if sort_type not in ("alphabetical", "measure"):
        raise IntakeError(400, f"{where}.sort.type must be alphabetical or measure, got {shorten(sort_type)}")
    order = sort.get("order", "asc" if sort_type == "alphabetical" else "desc")
    if order not in ("asc", "desc"):
        raise IntakeError(400, f"{where}.sort.order must be asc or desc, got {shorten(order)}")
    aggregation = _aggregation(sort.get("aggregation", "count"), f"{where}.sort.aggregation")
    metric = _metric(sort.get("metric"), aggregation, f"{where}.sort.metric") if sort_type == "measure" else None
    return GroupBy(facet, limit, missing, sort_type, order, aggregation, metric, total)


# ------------------------------------------------------------------------------------------ the answer
def facet_values(doc: dict[str, Any], facet: str) -> list[Value]:
    """The values of `facet` on a stored log (several for a tag key or an array attribute)."""
    if facet in _RESERVED:
        value = doc.get(_RESERVED[facet])
        return [] if value in (None, "") else [value]
    if facet.startswith("@"):
        return [v for v in _walk(doc.get("attributes", {}), facet[1:].split(".")) if _scalar(v)]
    prefix = facet.lower() + ":"
    return [t[len(prefix):] for t in doc.get("tags", ()) if t.startswith(prefix)]


def _walk(node: Any, parts: list[str]) -> Iterator[Any]:
    """The values at a dotted path; arrays on the way are entered (no recursion: the depth is the path's)."""
    level = [node]
    for part in parts:
        level = [child[part] for item in level for child in (item if isinstance(item, list) else [item])
                 if isinstance(child, dict) and part in child]
    for value in level:
        yield from value if isinstance(value, list) else [value]


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _numbers(docs: Sequence[dict[str, Any]], metric: str) -> list[float]:
    out = []
    for doc in docs:
        for value in facet_values(doc, metric):
            if isinstance(value, (int, float)) and math.isfinite(value):
                out.append(float(value))
    return out


def compute_value(docs: Sequence[dict[str, Any]], aggregation: str, metric: str | None) -> float | None:
    """One aggregation over some logs; None when it has no value (a measure nobody carries)."""
    if aggregation == "count":
        return float(len(docs) if metric is None else sum(1 for d in docs if facet_values(d, metric)))
    assert metric is not None
    if aggregation == "cardinality":
        return float(len({v for d in docs for v in facet_values(d, metric)}))
    values = _numbers(docs, metric)
    if not values:
        return None
    if aggregation in ("sum", "min", "max"):
        return float(sum(values) if aggregation == "sum" else min(values) if aggregation == "min" else max(values))
    if aggregation == "avg":
        return sum(values) / len(values)
    percent = 50.0 if aggregation == "median" else float(aggregation[2:])
    return float(np.percentile(np.asarray(values), percent))


Computed = float | list[tuple[int, float]]  # a total, or a series of (bucket start in epoch ms, value)


def evaluate(docs: list[dict[str, Any]], spec: Aggregation, start_ms: int, end_ms: int
             ) -> list[tuple[dict[str, Value], dict[str, Computed]]]:
    """Each group kept (or one over every log) and its computes; a total without a value is left out."""
    if not docs:
        return []
    out = []
    for by, members in _groups(docs, spec.group_bys, {}):
        computes: dict[str, Computed] = {}
        for compute in spec.computes:
            if compute.interval_ms is None:
                value = compute_value(members, compute.aggregation, compute.metric)
                if value is not None:
                    computes[compute.name] = value
            else:
                computes[compute.name] = _series(members, compute, start_ms, end_ms)
        out.append((by, computes))
    return out


def aggregate(docs: list[dict[str, Any]], spec: Aggregation, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
    """The buckets of a LogsAggregateResponse: one per group kept (or one over every log), with its computes."""
    return [{"by": by, "computes": {name: value if isinstance(value, float) else
                                    [{"time": iso_ms(t), "value": v} for t, v in value]
                                    for name, value in computes.items()}}
            for by, computes in evaluate(docs, spec, start_ms, end_ms)]


# ------------------------------------------------------------------------------------------ as a formula data source
def formula_aggregation(query: dict[str, Any], where: str, *, start_ms: int, end_ms: int, interval_ms: int | None,
                        total: bool) -> Aggregation:
    """An EventsTimeseriesQuery/EventsScalarQuery (`compute`, `group_by`, `search`) of /api/v2/query/* as an
    aggregation with one compute, `c0`: a series at `compute.interval` (ms; else `interval_ms`, else the default
    resolution), or a total when `total`."""
    compute = query.get("compute")
    if not isinstance(compute, dict):
        raise IntakeError(400, f"{where}.compute: required object with an aggregation")
    interval = compute.get("interval", interval_ms)
    if interval is not None:
        interval = int_field(interval, f"{where}.compute.interval", low=1000, high=end_ms - start_ms + 1000,
                             what="milliseconds")
    raw = {"aggregation": compute.get("aggregation"), "type": "total" if total else "timeseries",
           **({"metric": compute["metric"]} if compute.get("metric") is not None else {}),
           **({"interval": f"{interval}ms"} if interval is not None and not total else {})}
    groups = query.get("group_by", [])
    if not isinstance(groups, list):
        raise IntakeError(400, f"{where}.group_by: must be an array")
    body = {"compute": [raw], "group_by": groups}
    try:
        return parse_aggregation(body, start_ms, end_ms)
    except IntakeError as exc:  # name the query's own path, not the aggregate API's
        message = exc.messages[0].replace("compute[0]", f"{where}.compute").replace("group_by[", f"{where}.group_by[")
        raise IntakeError(400, message) from None


def _groups(docs: list[dict[str, Any]], group_bys: Sequence[GroupBy], by: dict[str, Value]
            ) -> Iterator[tuple[dict[str, Value], list[dict[str, Any]]]]:
    if not group_bys:
        yield by, docs
        return
    rule, rest = group_bys[0], group_bys[1:]
    members: dict[Value, list[dict[str, Any]]] = {}
    for doc in docs:
        values = facet_values(doc, rule.facet) or ([rule.missing] if rule.missing is not None else [])
        for value in dict.fromkeys(values):
            members.setdefault(value, []).append(doc)
        if len(members) > MAX_GROUPS:
            raise IntakeError(400, f"group_by facet {rule.facet!r:.60} has more than {MAX_GROUPS} distinct values; "
                                   "the sandbox groups at most that many")
    for value in _top(members, rule):
        yield from _groups(members[value], rest, {**by, rule.facet: value})
    if rule.total is not None:
        yield from _groups(docs, rest, {**by, rule.facet: rule.total})


def _top(members: dict[Value, list[dict[str, Any]]], rule: GroupBy) -> list[Value]:
    """The group values kept: sorted by the rule, the first `limit`; groups without a value for the measure last."""
    alphabetical = sorted(members, key=lambda v: (isinstance(v, str), v if isinstance(v, str) else float(v)))
    if rule.sort_type == "alphabetical":
        return (alphabetical[::-1] if rule.sort_order == "desc" else alphabetical)[:rule.limit]
    # ties keep the alphabetical order (the sort is stable), so the answer never depends on the logs' order
    scored = [(compute_value(members[v], rule.sort_aggregation, rule.sort_metric), v) for v in alphabetical]
    with_value = sorted(((s, v) for s, v in scored if s is not None), key=lambda pair: pair[0],
                        reverse=rule.sort_order == "desc")
    return [v for _, v in with_value + [(s, v) for s, v in scored if s is None]][:rule.limit]


def _series(docs: list[dict[str, Any]], compute: Compute, start_ms: int, end_ms: int) -> list[tuple[int, float]]:
    """A timeseries compute: a point per interval bucket (epoch-aligned) from the range's start; a count's empty
    buckets are 0, other aggregations' are left out (a point's value is a number, never null)."""
    step = compute.interval_ms
    assert step is not None
    first = start_ms // step * step
    by_bucket: dict[int, list[dict[str, Any]]] = {}
    for doc in docs:
        by_bucket.setdefault(doc["k"][0] // step * step, []).append(doc)
    points = []
    for bucket in range(first, end_ms + 1, step):
        value = compute_value(by_bucket.get(bucket, []), compute.aggregation, compute.metric)
        if value is not None and (by_bucket.get(bucket) or compute.aggregation == "count"):
            points.append((bucket, value))
    return points
