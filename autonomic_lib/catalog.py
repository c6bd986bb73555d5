"""The metric catalogue: the single source of truth for what the swarm may emit.

`assets/metadata.csv` follows Datadog's integrations-core format (one row per metric);
`assets/tags.csv` lists the tag keys the telemetry may attach, each with its bounded values and the
metrics that carry it. The emitter, the asset linter, the sandbox and the reports all read these.
"""

from __future__ import annotations

import csv
import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from .errors import CatalogError
from .query.glob import Glob
from .resources import ASSETS_DIR
from .units import UNITS

METADATA_COLUMNS = ("metric_name", "metric_type", "interval", "unit_name", "per_unit_name", "description",
                    "orientation", "integration", "short_name", "curated_metric")
TAG_COLUMNS = ("tag_key", "allowed_values", "max_values", "metrics", "description")
METRIC_TYPES = ("gauge", "count", "rate", "distribution")
INTEGRATION = "autonomic_ai"
PREFIX = "autonomic."
_METRIC_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,199}")
_TAG_KEY = re.compile(r"[a-z][a-z0-9_./-]{0,199}")


@dataclass(frozen=True, kw_only=True)
class MetricSpec:
    """One row of metadata.csv."""

    name: str
    type: str
    interval: int | None
    unit: str | None
    per_unit: str | None
    description: str
    orientation: int
    short_name: str


@dataclass(frozen=True, kw_only=True)
class TagSpec:
    """One row of tags.csv: a tag key, its allowed values and the metrics that carry it."""

    key: str
    values: tuple[str, ...]
    pattern: re.Pattern[str] | None
    max_values: int
    metric_globs: tuple[str, ...]
    description: str

    def allows(self, value: str) -> bool:
        """Whether `value` is one this key may take."""
        if self.pattern is not None:
            return self.pattern.fullmatch(value) is not None
        return value in self.values

    def applies_to(self, metric: str) -> bool:
        """Whether `metric` carries this tag key."""
        return any(Glob.compile(g).fullmatch(metric) for g in self.metric_globs)

    def describe_values(self) -> str:
        """Allowed values as a person would read them."""
        return f"matching {self.pattern.pattern}" if self.pattern is not None else " | ".join(self.values)


@dataclass(frozen=True)
class Catalog:
    """Metrics and tag keys, loaded and checked from the assets folder.

    Usage::

        catalog = load_catalog()
        spec = catalog.metric("autonomic.agent.cost")          # CatalogError if unknown
        catalog.check_tags(spec.name, ["env:demo", "agent_id:chatbot-01"])
    """

    metrics: dict[str, MetricSpec]
    tags: dict[str, TagSpec]
    source: Path

    def metric(self, name: str) -> MetricSpec:
        """The spec of `name`; unknown names raise CatalogError with the closest known names."""
        try:
            return self.metrics[name]
        except KeyError:
            close = difflib.get_close_matches(name, self.metrics, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise CatalogError(f"metric {name!r} is not in the catalogue.{hint} Add a row to metadata.csv first.",
                               file=str(self.source / "metadata.csv")) from None

    def tag_keys_for(self, metric: str) -> set[str]:
        """Tag keys that `metric` may carry."""
        return {t.key for t in self.tags.values() if t.applies_to(metric)}

    def check_tags(self, metric: str, tags: Iterable[str]) -> None:
        """Raise CatalogError naming the first tag `metric` may not carry, or whose value is not allowed."""
        self.metric(metric)
        for tag in tags:
            key, sep, value = tag.partition(":")
            spec = self.tags.get(key)
            if not sep or spec is None:
                allowed = ", ".join(sorted(self.tag_keys_for(metric)))
                raise CatalogError(f"tag {tag!r} on {metric}: key {key!r} is not an allowed tag key ({allowed})",
                                   file=str(self.source / "tags.csv"))
            if not spec.applies_to(metric):
                raise CatalogError(f"tag {tag!r}: metric {metric} does not carry {key!r} (tags.csv says it is for "
                                   f"{' '.join(spec.metric_globs)})", file=str(self.source / "tags.csv"))
            if not spec.allows(value):
                raise CatalogError(f"tag {tag!r} on {metric}: value must be {spec.describe_values()}",
                                   file=str(self.source / "tags.csv"))


def load_catalog(assets_dir: Path | None = None) -> Catalog:
    """Read and check metadata.csv and tags.csv; every problem found is reported at once."""
    root = Path(assets_dir) if assets_dir is not None else ASSETS_DIR
    return _load(root.resolve())


@lru_cache(maxsize=8)
def _load(root: Path) -> Catalog:
    problems: list[CatalogError] = []
    metrics = _read_metrics(root / "metadata.csv", problems)
    tags = _read_tags(root / "tags.csv", metrics, problems)
    if problems:
        raise CatalogError(f"{len(problems)} problem(s) in the catalogue:\n" + "\n".join(f"  - {p}" for p in problems))
    return Catalog(metrics, tags, root)


def _rows(path: Path, columns: tuple[str, ...], problems: list[CatalogError]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV file with its line numbers, after checking the header."""
    if not path.is_file():
        problems.append(CatalogError("file is missing", file=str(path)))
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != columns:
            problems.append(CatalogError(f"header must be exactly {','.join(columns)}", file=str(path), row=1))
            return []
        rows = []
        for row in reader:
            if None in row or any(v is None for v in row.values()):
                problems.append(CatalogError(f"expected {len(columns)} columns", file=str(path), row=reader.line_num))
                continue
            rows.append((reader.line_num, {k: v.strip() for k, v in row.items()}))
        return rows


def _read_metrics(path: Path, problems: list[CatalogError]) -> dict[str, MetricSpec]:
    metrics: dict[str, MetricSpec] = {}
    short_names: set[str] = set()
    for line, row in _rows(path, METADATA_COLUMNS, problems):
        def bad(column: str, message: str) -> None:
            problems.append(CatalogError(message, file=str(path), row=line, column=column))

        name = row["metric_name"]
        if not _METRIC_NAME.fullmatch(name):
            bad("metric_name", f"{name!r} is not a valid Datadog metric name (a letter, then letters, digits, _ "
                               "or ., at most 200 characters)")
        elif not name.startswith(PREFIX):
            bad("metric_name", f"{name!r} must start with the integration prefix {PREFIX!r}")
        elif name in metrics:
            bad("metric_name", f"{name!r} appears twice")
        if row["metric_type"] not in METRIC_TYPES:
            bad("metric_type", f"{row['metric_type']!r} is not one of {', '.join(METRIC_TYPES)}")
        interval = None
        if row["interval"]:
            if not row["interval"].isdigit() or int(row["interval"]) == 0:
                bad("interval", f"{row['interval']!r} must be a positive number of seconds or empty")
            else:
                interval = int(row["interval"])
        for column in ("unit_name", "per_unit_name"):
            if row[column] and row[column] not in UNITS:
                close = difflib.get_close_matches(row[column], UNITS, n=2)
                bad(column, f"{row[column]!r} is not a Datadog unit" + (f" (did you mean {', '.join(close)}?)" if close else ""))
        if not row["description"]:
            bad("description", "a description is required")
        if row["orientation"] not in ("-1", "0", "1"):
            bad("orientation", f"{row['orientation']!r} must be -1, 0 or 1")
        if row["integration"] != INTEGRATION:
            bad("integration", f"{row['integration']!r} must be {INTEGRATION!r}")
        if not row["short_name"]:
            bad("short_name", "a short name is required")
        elif row["short_name"] in short_names:
            bad("short_name", f"{row['short_name']!r} is used twice")
        if row["curated_metric"] not in ("", "cpu", "memory"):
            bad("curated_metric", f"{row['curated_metric']!r} must be empty, cpu or memory")
        short_names.add(row["short_name"])
        if name not in metrics and row["metric_type"] in METRIC_TYPES and row["orientation"] in ("-1", "0", "1"):
            metrics[name] = MetricSpec(name=name, type=row["metric_type"], interval=interval,
                                       unit=row["unit_name"] or None, per_unit=row["per_unit_name"] or None,
                                       description=row["description"], orientation=int(row["orientation"]),
                                       short_name=row["short_name"])
    return metrics


def _read_tags(path: Path, metrics: dict[str, MetricSpec], problems: list[CatalogError]) -> dict[str, TagSpec]:
    tags: dict[str, TagSpec] = {}
    for line, row in _rows(path, TAG_COLUMNS, problems):
        def bad(column: str, message: str) -> None:
            problems.append(CatalogError(message, file=str(path), row=line, column=column))

        key = row["tag_key"]
        if not _TAG_KEY.fullmatch(key):
            bad("tag_key", f"{key!r} is not a valid lower-case tag key")
            continue
        if key in tags:
            bad("tag_key", f"{key!r} appears twice")
            continue
        raw = row["allowed_values"]
        pattern: re.Pattern[str] | None = None
        values: tuple[str, ...] = ()
        if raw.startswith("re:"):
            try:
                pattern = re.compile(raw[3:])
            except re.error as exc:
                bad("allowed_values", f"invalid regular expression: {exc}")
                continue
        else:
            values = tuple(v for v in raw.split("|") if v)
            if not values:
                bad("allowed_values", "list the values separated by | or give a pattern as re:<regex>")
                continue
        if not row["max_values"].isdigit() or int(row["max_values"]) == 0:
            bad("max_values", "must be a positive bound on distinct values (tags must stay bounded)")
            continue
        if values and len(values) > int(row["max_values"]):
            bad("max_values", f"lists {len(values)} values but allows only {row['max_values']}")
        globs = tuple(row["metrics"].split())
        if not globs:
            bad("metrics", "name the metrics (globs allowed) that carry this tag")
        for glob in globs:
            if not any(Glob.compile(glob).fullmatch(m) for m in metrics):
                bad("metrics", f"{glob!r} matches no metric of metadata.csv")
        tags[key] = TagSpec(key=key, values=values, pattern=pattern, max_values=int(row["max_values"]),
                            metric_globs=globs, description=row["description"])
    return tags
