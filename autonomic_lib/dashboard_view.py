"""The Ops Center dashboard drawn from its own JSON with the backend's data: one matplotlib figure, laid out
like the dashboard (a band per group, its widgets side by side), so a judge without Datadog sees what the
dashboard would show, and a Datadog user can hold it next to the real one.

Every widget's queries are the JSON's own (with the `$env` template variable filled in) run through the
official client; formulas (`pass / (pass + fail) * 100`), aggregators and conditional formats are applied
as Datadog documents them. Widget types the kit's dashboard does not use are drawn as a labelled blank.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from datadog_api_client import ApiClient
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .analysis import query_frame
from .catalog import ASSETS_DIR
from .render import GREY, PURPLE, RED, describe, format_cell, format_number, plot_line, plural, time_axis

DASHBOARD_FILE = ASSETS_DIR / "dashboards" / "autonomic_ops_center.json"
GROUP_COLOURS = {"vivid_purple": "#632ca6", "vivid_blue": "#1f6fd1", "vivid_green": "#2b8a3e",
                 "vivid_orange": "#d9730d", "gray": "#6b6b6b"}
PALETTES = {"white_on_red": ("#e0554d", "#ffffff"), "white_on_green": ("#3ec28f", "#ffffff"),
            "white_on_gray": ("#8a8a8a", "#ffffff"), "white_on_yellow": ("#f2b705", "#ffffff"),
            "red_on_white": ("#ffffff", "#e0554d"), "green_on_white": ("#ffffff", "#2b8a3e")}
STATE_COLOURS = {"Alert": "#e0554d", "Warn": "#f2b705", "OK": "#3ec28f", "No Data": "#b0b0b0"}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "=": operator.eq}
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
# Figure points. The reports save the dashboard at 80 dpi and show it at about its pixel size: 11 pt there reads as
# 9 pt on the page (11 x 80 / 96), the smallest a table may be; ticks and legends at 9.
TABLE_FONT = 11
TICK_FONT = 9
CELL_WIDTH = 110  # characters: longer cell text wraps onto more lines (it is never cut short)


def load_dashboard(path: Path | None = None) -> dict[str, Any]:
    """The dashboard JSON as the kit ships it."""
    return json.loads(Path(path or DASHBOARD_FILE).read_text(encoding="utf-8"))


def evaluate_formula(formula: str, values: dict[str, Any]) -> Any:
    """A dashboard formula (names, numbers, + - * /, parentheses) over scalars or aligned Series."""
    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Div) and not isinstance(right, pd.Series):
                return left / right if right else float("nan")
            return _OPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.Name) and node.id[2:] in values:
            return values[node.id[2:]]
        raise ValueError(f"formula {formula!r}: unsupported part {ast.dump(node)[:60]}")
    # Query names may be Python keywords ("pass"): prefix every name before parsing.
    return walk(ast.parse(re.sub(r"[A-Za-z_][A-Za-z0-9_]*", lambda m: "q_" + str(m.group(0)), formula), mode="eval"))


def conditional_colours(value: float, formats: list[dict[str, Any]]) -> tuple[str, str]:
    """(background, text) of the first conditional format the value matches (Datadog applies them in order)."""
    for rule in formats:
        if not math.isnan(value) and _COMPARE[rule["comparator"]](value, float(rule["value"])):
            if rule.get("palette") == "custom_bg":
                return rule.get("custom_bg_color", "#ffffff"), rule.get("custom_fg_color", "#000000")
            return PALETTES.get(rule.get("palette", ""), ("#ffffff", "#222222"))
    return "#ffffff", "#222222"


@dataclass
class WidgetData:
    """What one widget shows: a number, lines per group, ranked bars, or a table."""

    kind: str
    title: str
    scalar: float | None = None
    lines: dict[str, pd.Series] = field(default_factory=dict)
    bars: pd.Series | None = None
    table: pd.DataFrame | None = None
    spec: dict[str, Any] = field(default_factory=dict)
    interval: float | None = None  # s between the lines' points, as the backend answered (to see gaps)

    def describe(self) -> str:
        """What the widget shows, in words (the drawn dashboard's alt text)."""
        if self.scalar is not None:
            return f"{self.title} {_scalar_text(self.spec, self.scalar)}"
        if self.lines:
            peaks = ", ".join(f"{label} up to {format_number(s.max())}" for label, s in self.lines.items())
            return f"{self.title} ({peaks})"
        if self.bars is not None and not self.bars.empty:
            return f"{self.title} ({', '.join(f'{k} {format_number(v)}' for k, v in self.bars.items())})"
        if self.table is not None:
            return f"{self.title} ({plural(len(self.table), 'row')})"
        return f"{self.title} (no data)"


def _aggregate(frame: pd.DataFrame, aggregator: str) -> float:
    values = frame.dropna(subset=["value"]).sort_values("time")["value"]
    if values.empty:
        return float("nan")
    return float({"sum": values.sum, "avg": values.mean, "max": values.max, "min": values.min,
                  "last": lambda: values.iloc[-1]}[aggregator]())


def _scope(query: str, env: str) -> str:
    return query.replace("$env", f"env:{env}")


def widget_data(api_client: ApiClient, spec: dict[str, Any], env: str, start: int, end: int,
                monitors: pd.DataFrame | None = None, logs: pd.DataFrame | None = None) -> WidgetData:
    """Query what one widget needs (monitors and logs are passed in: they come from other APIs)."""
    kind, title = spec["type"], spec.get("title", spec["type"])
    data = WidgetData(kind, title, spec=spec)
    if kind in ("query_value", "toplist", "timeseries"):
        request = spec["requests"][0]
        frames = {q["name"]: query_frame(api_client, _scope(q["query"], env), start, end) for q in request["queries"]}
        aggregators = {q["name"]: q.get("aggregator", "avg") for q in request["queries"]}
        formulas = request.get("formulas") or [{"formula": name} for name in frames]
        data.interval = max((f.attrs.get("interval") or 0 for f in frames.values()), default=0) or None
        if kind == "query_value":
            scalars = {n: _aggregate(f, aggregators[n]) for n, f in frames.items()}
            data.scalar = float(evaluate_formula(formulas[0]["formula"], scalars))
        elif kind == "toplist":
            name = formulas[0]["formula"]
            frame = frames[name]
            sums = frame.groupby("group")["value"].sum() if not frame.empty else pd.Series(dtype=float)
            limit = (formulas[0].get("limit") or {}).get("count", 10)
            data.bars = sums[sums > 0].sort_values(ascending=False).head(limit)
        else:
            for formula in formulas:
                name = formula["formula"]
                frame = frames.get(name)
                if frame is None or frame.empty:
                    continue
                for group, part in frame.groupby("group"):
                    label = formula.get("alias") or name
                    data.lines[label if group == "*" else str(group).split(":", 1)[-1]] = \
                        part.set_index("time")["value"].sort_index()
    elif kind == "manage_status":
        data.table = monitors if monitors is not None else pd.DataFrame()
    elif kind == "log_stream":
        data.table = logs if logs is not None else pd.DataFrame()
    return data


def dashboard_data(api_client: ApiClient, dashboard: dict[str, Any], env: str, start: int, end: int, *,
                   monitors: pd.DataFrame | None = None, logs: pd.DataFrame | None = None
                   ) -> list[tuple[dict[str, Any], list[WidgetData]]]:
    """Each group of the dashboard with the data of its widgets."""
    out = []
    for group in dashboard["widgets"]:
        definition = group["definition"]
        children = definition.get("widgets", []) if definition["type"] == "group" else [group]
        out.append((definition, [widget_data(api_client, w["definition"], env, start, end, monitors, logs)
                                 for w in children]))
    return out


# ------------------------------------------------------------------------------------------ drawing
def _scalar_text(spec: dict[str, Any], value: float) -> str:
    """A query value as the widget shows it: its precision, its unit ("v2", "98.2%")."""
    text = "–" if math.isnan(value) else f"{value:,.{int(spec.get('precision', 2))}f}"
    unit = spec.get("custom_unit", "")
    return f"{unit}{text}" if unit == "v" else f"{text}{unit}"


def _number(ax: Axes, data: WidgetData) -> None:
    spec = data.spec
    value = data.scalar if data.scalar is not None else float("nan")
    formats = spec["requests"][0].get("conditional_formats", [])
    background, colour = conditional_colours(value, formats)
    ax.set_facecolor(background)
    ax.text(0.5, 0.45, _scalar_text(spec, value), ha="center", va="center",
            fontsize=26, color=GREY if math.isnan(value) else colour, fontweight="bold", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _lines(ax: Axes, data: WidgetData) -> None:
    request = data.spec["requests"][0]
    bars = request.get("display_type") == "bars"
    palette = [PURPLE, "#3ec28f", RED, "#1f6fd1", "#d9730d", GREY]
    if bars and data.lines:
        frame = pd.DataFrame(data.lines).fillna(0.0)
        bottom = np.zeros(len(frame))
        width = (frame.index[1] - frame.index[0]) * 0.9 if len(frame) > 1 else pd.Timedelta(minutes=1)
        for (label, column), colour in zip(frame.items(), [RED if "fail" in str(c) else PURPLE for c in frame]):
            ax.bar(frame.index, column.values, width=width, bottom=bottom, label=label, color=colour)
            bottom = bottom + column.values
    else:
        for (label, series), colour in zip(data.lines.items(), palette):
            plot_line(ax, series, interval=data.interval, label=label, color=colour, linewidth=1)
    for marker in data.spec.get("markers", []):
        try:
            y = float(str(marker["value"]).split("=")[-1])
        except ValueError:
            continue
        ax.axhline(y, color=RED, linestyle="--", linewidth=1, label=marker.get("label"))
    if not data.lines:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", color=GREY, transform=ax.transAxes)
    elif data.spec.get("show_legend", True):
        ax.legend(fontsize=TICK_FONT, loc="upper left")
    ax.tick_params(labelsize=TICK_FONT)
    ax.grid(alpha=0.3)
    if data.lines:
        time_axis(ax, label=False)  # the figure's title says UTC once


def _toplist(ax: Axes, data: WidgetData) -> None:
    bars = data.bars if data.bars is not None else pd.Series(dtype=float)
    if bars.empty:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", color=GREY, transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        return
    formats = data.spec["requests"][0].get("conditional_formats", [])
    colours = [conditional_colours(float(v), formats)[0] for v in bars.values]
    labels = [str(g).replace(",", "\n") for g in bars.index]
    drawn = ax.barh(labels[::-1], bars.values[::-1], color=[c if c != "#ffffff" else PURPLE for c in colours[::-1]])
    ax.bar_label(drawn, labels=[format_number(v) for v in bars.values[::-1]], padding=3, fontsize=TICK_FONT)
    ax.xaxis.set_major_locator(MaxNLocator(integer=bool(all(float(v).is_integer() for v in bars.values))))
    ax.tick_params(labelsize=TICK_FONT)


def _table(ax: Axes, data: WidgetData) -> None:
    ax.axis("off")
    table = data.table if data.table is not None else pd.DataFrame()
    if table.empty:
        ax.text(0.5, 0.5, "nothing to show", ha="center", va="center", color=GREY, transform=ax.transAxes)
        return
    cells = table.map(lambda v: textwrap.fill(format_cell(v), CELL_WIDTH)).values.tolist()
    drawn = ax.table(cellText=cells, colLabels=list(table.columns), loc="upper center", cellLoc="left")
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(TABLE_FONT)
    drawn.auto_set_column_width(list(range(len(table.columns))))
    line = drawn[0, 0].get_height() * TABLE_FONT / 10 * 1.3  # matplotlib sizes rows for 10 pt; leave air around
    for row, texts in enumerate([list(table.columns)] + cells):  # a wrapped cell's row grows with its lines
        lines = max(str(t).count("\n") + 1 for t in texts)
        for column in range(len(table.columns)):
            drawn[row, column].set_height(line * lines)
    if "state" in table.columns:
        column = list(table.columns).index("state")
        for row, state in enumerate(table["state"], start=1):
            drawn[row, column].set_facecolor(STATE_COLOURS.get(str(state), "#ffffff"))


_DRAW = {"query_value": _number, "timeseries": _lines, "toplist": _toplist, "manage_status": _table,
         "log_stream": _table}


def draw_dashboard(dashboard: dict[str, Any], groups: list[tuple[dict[str, Any], list[WidgetData]]], *,
                   subtitle: str = "") -> Figure:
    """One figure laid out like the dashboard: a coloured title band per group, its widgets side by side."""
    heights = [1.6 if all(w.kind == "query_value" or w.kind == "manage_status" for w in ws) else 2.4
               for _, ws in groups]
    fig = plt.figure(figsize=(15, 2.2 + 2.6 * sum(heights) / 1.9))
    grid = fig.add_gridspec(len(groups), 1, height_ratios=heights, hspace=0.55, top=0.93, bottom=0.04, left=0.06,
                            right=0.98)
    for row, (group, widgets) in enumerate(groups):
        inner = grid[row].subgridspec(1, len(widgets), wspace=0.25,
                                      width_ratios=[0.6 if w.kind == "query_value" else 1.4 for w in widgets])
        for col, widget in enumerate(widgets):
            ax = fig.add_subplot(inner[0, col])
            _DRAW.get(widget.kind, lambda a, d: a.text(0.5, 0.5, f"{d.kind}: not drawn", ha="center"))(ax, widget)
            ax.set_title(widget.title, fontsize=9, loc="left")
            if col == 0:
                colour = GROUP_COLOURS.get(group.get("background_color", ""), GREY)
                ax.annotate(group.get("title", ""), xy=(0, 1.32), xycoords="axes fraction", fontsize=11,
                            fontweight="bold", color="white", va="bottom",
                            bbox={"boxstyle": "round,pad=0.3", "facecolor": colour, "edgecolor": colour})
    name = f"{dashboard.get('title', 'Dashboard')}{' — ' + subtitle if subtitle else ''}"
    fig.suptitle(f"{name} (times UTC)", fontsize=14, y=0.995)
    return describe(fig, f"The {name} dashboard, drawn from its JSON with the backend's data. " + " ".join(
        f"{group.get('title', '')}: {'; '.join(w.describe() for w in widgets)}." for group, widgets in groups))


def ops_center(api_client: ApiClient, env: str, start: int, end: int, *, subtitle: str = "",
               dashboard: dict[str, Any] | None = None) -> Figure:
    """The whole Ops Center with the backend's data over [start, end]: monitors, logs and every query."""
    from .analysis import kit_monitors, recent_logs

    dashboard = dashboard or load_dashboard()
    monitors = kit_monitors(api_client)
    status = monitors[["monitor", "state", "last triggered"]] if not monitors.empty else monitors
    logs = recent_logs(api_client, "service:autonomic-*", start, end)
    return draw_dashboard(dashboard, dashboard_data(api_client, dashboard, env, start, end, monitors=status,
                                                    logs=logs), subtitle=subtitle)
