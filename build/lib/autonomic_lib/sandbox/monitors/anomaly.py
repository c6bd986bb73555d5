"""Expected bands of `anomalies()` monitors (basic, agile, robust), computed causally over a regular series.

Datadog does not publish its anomaly algorithms; DATADOG.md 3.5 documents their behaviour only. These are
approximations of that behaviour, and every place where the sandbox chooses is listed here:

- **basic**: "lagging rolling quantile" with no seasonality. The band at a point is the median of the previous
  `max(60, 4 x alert_window)` points +- bounds x the robust spread (interquartile range / 1.349) of those points.
  It shows a band after `BASIC_MIN_POINTS` points ("uses little data") and, like Datadog's, is not robust to past
  anomalies (they widen the band while they sit in the trailing window).
- **agile**: "robust SARIMA that incorporates the immediate past". The prediction is the recent level (median of the
  previous `AGILE_LEVEL_POINTS` points) plus the seasonal offset (median, over the previous seasons, of the value at
  the same phase minus the level there). A level shift is followed after about half the level window (~15 min at
  60 s points); spikes shorter than that stay anomalous.
- **robust**: "seasonal-trend decomposition, stable". Same shape as agile, but the level is the median of one whole
  previous season, so slow shifts stay anomalous for a long time (Datadog: "slow to adopt intended shifts").
- agile/robust need `MIN_SEASONS` (3) full seasons (plus 45 points of residuals) before they show a band (hourly:
  3 h, daily: 3 days, weekly: 3 weeks) and use at most `MAX_SEASONS` seasons (Datadog: up to 6 weeks; the sandbox
  keeps 12 h for hourly, 14 days for daily, 6 weeks for weekly). With less history there is no band, and the
  monitor says so instead of guessing; a window is judged only once every point in it has a band (a half-formed
  band would judge a handful of points).
- the band width: bounds x a robust standard deviation (1.4826 x the median absolute residual, from at least 45
  points) of the past residuals (value - prediction) over up to `MAX_SEASONS` seasons; the residuals are
  out-of-sample, so the band already includes the model's own error. A floor of 1 % of the level keeps a perfectly
  flat series from alerting on noise.
- `seasonality` omitted on agile/robust defaults to weekly (sandbox choice); `interval` omitted defaults to 60 s
  (at most alert_window / 5, the documented rule).

Measured (bench/monitors.py --anomaly): false alerts on clean days and the detection delay of the seed's spikes, at
the bounds the kit's latency monitor sets (assets/monitors/latency_anomaly.json) and at the seed's, are listed in
evaluator.py's docstring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from autonomic_lib.errors import QueryError, UnsupportedQueryError
from autonomic_lib.query.language import Expr, FunctionCall, Number, metric_queries, parse_monitor, parse_query
from autonomic_lib.query.windows import window_seconds
from autonomic_lib.sandbox.metrics.evaluate import MetricKind, evaluate_grid, store_kinds

SEASONS = {"hourly": 3600, "daily": 86400, "weekly": 604800}
MIN_SEASONS = 3
MAX_SEASONS = {"hourly": 12, "daily": 14, "weekly": 6}
BASIC_MIN_POINTS = 15
AGILE_LEVEL_POINTS = 30
DEFAULT_INTERVAL = 60
_MAD_TO_SIGMA = 1.4826
_IQR_TO_SIGMA = 1.349
_LEVEL_FLOOR = 0.01  # the band is never narrower than 1 % of the level on each side


@dataclass(frozen=True, kw_only=True)
class AnomalySpec:
    """An `anomalies(query, algorithm, bounds, ...)` call, resolved to numbers."""

    query: Expr  # the inner metric query, parsed
    algorithm: str  # basic | agile | robust
    bounds: float
    direction: str = "both"  # above | below | both
    alert_window: int = 900  # seconds
    interval: int = DEFAULT_INTERVAL  # seconds per point
    seasonality: str | None = None  # hourly | daily | weekly (None for basic)
    count_default_zero: bool = True

    @property
    def season_points(self) -> int:
        return SEASONS[self.seasonality] // self.interval if self.seasonality else 0

    @property
    def history_required(self) -> int:
        """Seconds of history before the first band: 3 seasons (agile/robust), a few points (basic)."""
        if self.algorithm == "basic":
            return BASIC_MIN_POINTS * self.interval
        return MIN_SEASONS * SEASONS[self.seasonality or "weekly"]

    @property
    def lookback(self) -> int:
        """Seconds of history the band at one point may use."""
        if self.algorithm == "basic":
            return self.basic_window * self.interval
        season = SEASONS[self.seasonality or "weekly"]
        return MAX_SEASONS[self.seasonality or "weekly"] * season + season

    @property
    def basic_window(self) -> int:
        return max(60, 4 * (self.alert_window // self.interval))


def spec_from_call(call: FunctionCall) -> AnomalySpec:
    """The AnomalySpec of an `anomalies(...)` call (already validated at monitor creation)."""
    if call.name != "anomalies" or len(call.args) < 3 or isinstance(call.args[0], str):
        raise QueryError("anomalies(<query>, '<basic|agile|robust>', <bounds>, ...) expected", query=call.name)
    algorithm, bounds = call.args[1], call.args[2]
    if algorithm not in ("basic", "agile", "robust") or not isinstance(bounds, Number):
        raise QueryError(f"anomalies() algorithm must be basic, agile or robust, not {algorithm!r}", query=call.name)
    kwargs: dict[str, Any] = dict(call.kwargs)
    alert_window = window_seconds(kwargs.get("alert_window", "last_15m"))
    interval = int(kwargs.get("interval") or max(1, min(DEFAULT_INTERVAL, alert_window // 5)))
    seasonality = kwargs.get("seasonality")
    if algorithm != "basic" and seasonality is None:
        seasonality = "weekly"  # sandbox choice, see the module docstring
    return AnomalySpec(query=call.args[0], algorithm=str(algorithm), bounds=float(bounds.value),
                       direction=str(kwargs.get("direction", "both")), alert_window=alert_window, interval=interval,
                       seasonality=str(seasonality) if seasonality else None,
                       count_default_zero=str(kwargs.get("count_default_zero", "true")).lower() == "true")


def spec_from_text(text: str) -> AnomalySpec:
    """Spec of a monitor query (`avg(last_4h):anomalies(...) >= 1`) or of a bare `anomalies(...)` expression."""
    try:
        expr: Expr = parse_monitor(text).expression
    except QueryError:
        expr = parse_query(text)
    if not isinstance(expr, FunctionCall) or expr.name != "anomalies":
        raise UnsupportedQueryError(f"not an anomalies() query: {text!r}")
    return spec_from_call(expr)


def expected_band(values: np.ndarray, spec: AnomalySpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(prediction, lower, upper) per point of a regular series (NaN = no point); NaN where there is no band yet.

    Causal: the band at point i uses only points before i, so evaluating minute by minute and evaluating a whole
    history at once give the same band.
    """
    x = pd.Series(np.asarray(values, dtype=float))
    past = x.shift(1)
    if spec.algorithm == "basic":
        w = spec.basic_window
        roll = past.rolling(w, min_periods=BASIC_MIN_POINTS)
        center = roll.median()
        scale = (roll.quantile(0.75) - roll.quantile(0.25)) / _IQR_TO_SIGMA
    else:
        p = spec.season_points
        k_max = MAX_SEASONS[spec.seasonality or "weekly"]
        m = p if spec.algorithm == "robust" else min(AGILE_LEVEL_POINTS, p)
        level = past.rolling(m, min_periods=max(1, m // 2)).median()
        offset = (x - level).to_numpy()
        lagged = np.full((k_max, len(x)), np.nan)
        for k in range(1, k_max + 1):
            if k * p < len(x):
                lagged[k - 1, k * p:] = offset[:len(x) - k * p]
        seasons = (~np.isnan(lagged)).sum(axis=0)
        with np.errstate(all="ignore"), _quiet():
            seasonal = np.nanmedian(lagged, axis=0)
        seasonal[seasons < MIN_SEASONS] = np.nan
        center = level + seasonal
        residual = (x - center).abs()
        scale = _MAD_TO_SIGMA * residual.shift(1).rolling(k_max * p, min_periods=min(p, 45)).median()
    center_np, scale_np = center.to_numpy(), scale.to_numpy()
    floor = np.maximum(_LEVEL_FLOOR * np.abs(center_np), 1e-12)
    with np.errstate(invalid="ignore"):
        width = np.where(np.isnan(scale_np) | np.isnan(center_np), np.nan,
                         spec.bounds * np.maximum(scale_np, floor))
    return center_np, center_np - width, center_np + width


def anomalous_points(values: np.ndarray, lower: np.ndarray, upper: np.ndarray, direction: str) -> np.ndarray:
    """True where a present point lies outside the band on the watched side (False without a point or a band)."""
    with np.errstate(invalid="ignore"):
        above = values > upper
        below = values < lower
    return above if direction == "above" else below if direction == "below" else above | below


def history_reason(spec: AnomalySpec, first_data: int | None, at: int) -> str:
    """Why there is no band at `at`: the history the algorithm needs against what the data has."""
    need = spec.history_required
    have = 0 if first_data is None else max(0, at - first_data)
    what = (f"'{spec.algorithm}' with {spec.seasonality} seasonality needs {MIN_SEASONS} seasons"
            if spec.algorithm != "basic" else f"'basic' needs {BASIC_MIN_POINTS} points")
    return (f"not enough history: {what} ({_duration(need)}) before it shows a band; the data covers "
            f"{_duration(have)}, so the monitor stays as it is instead of guessing")


def anomaly_band(store: Any, query_text: str, start: int, end: int, *,
                 kinds: Callable[[str], MetricKind] | None = None) -> pd.DataFrame:
    """The expected band of an anomalies() query over [start, end), for the analysis to draw.

    Args:
        store: a MetricStore.
        query_text: a monitor query (`avg(last_4h):anomalies(...) >= 0.2`) or a bare `anomalies(...)` expression.
        start, end: epoch seconds.
        kinds: metric name -> MetricKind (Sandbox.kind); defaults to what the store knows.

    Returns:
        DataFrame with columns time (epoch s), value, lower, upper, anomalous, and group when the query groups.
        The history before `start` that the algorithm needs is read too, so the band is the one the monitor saw.
    """
    spec = spec_from_text(query_text)
    iv = spec.interval
    first = (int(start) - spec.lookback) // iv * iv
    last = -(-int(end) // iv) * iv
    rows: list[pd.DataFrame] = []
    for key, times, values in _series(spec, store, first, last, kinds):
        _, lower, upper = expected_band(values, spec)
        keep = (times >= start) & (times < end)
        frame = pd.DataFrame({"time": times[keep], "value": values[keep], "lower": lower[keep], "upper": upper[keep],
                              "anomalous": anomalous_points(values, lower, upper, spec.direction)[keep]})
        if key is not None:
            frame["group"] = key
        rows.append(frame)
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in ("time", "value", "lower", "upper", "anomalous")})
    return pd.concat(rows, ignore_index=True)


def _series(spec: AnomalySpec, store: Any, first: int, last: int,
            kinds: Callable[[str], MetricKind] | None) -> list[tuple[str | None, np.ndarray, np.ndarray]]:
    """Each group's values on the regular grid [first, last) at spec.interval, count_default_zero applied."""
    iv = spec.interval
    n = (last - first) // iv
    grid = evaluate_grid(spec.query, store, first, last, iv, kinds=kinds)
    times = first + np.arange(n, dtype=np.int64) * iv
    out = []
    for tags in sorted(grid):
        values = fill_counts(grid[tags], spec, store, kinds)
        out.append((",".join(tags) if tags else None, times, values))
    return out


def fill_counts(values: np.ndarray, spec: AnomalySpec, store: Any,
                kinds: Callable[[str], MetricKind] | None) -> np.ndarray:
    """count_default_zero='true': a count query's empty points are 0 (after its first point), not missing."""
    if not spec.count_default_zero or not _is_count(spec.query, store, kinds):
        return values
    present = np.flatnonzero(~np.isnan(values))
    if not len(present):
        return values
    out = values.copy()
    tail = out[present[0]:]
    tail[np.isnan(tail)] = 0.0
    return out


def _is_count(query: Expr, store: Any, kinds: Callable[[str], MetricKind] | None) -> bool:
    """Every metric of the query counts events: a count or rate metric (MetricKind.type), or written .as_count()."""
    lookup = kinds or store_kinds(store)
    metrics = list(metric_queries(query))
    return bool(metrics) and all(lookup(q.metric).type in ("count", "rate") or q.modifier == "as_count"
                                 for q in metrics)


def _duration(seconds: int) -> str:
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            value = seconds / size
            return f"{value:.1f} {unit}".replace(".0 ", " ")
    return f"{seconds} s"


class _quiet:
    """Silence numpy's 'All-NaN slice' warning for columns without seasons (they become NaN, as wanted)."""

    def __enter__(self) -> None:
        import warnings
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: Any) -> None:
        self._ctx.__exit__(*exc)
