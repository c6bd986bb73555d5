"""The pages' charts: small PNGs drawn by matplotlib (a Figure, never pyplot: no backend state shared across
threads) and embedded as data URIs, so a page is one self-contained response that needs no further request."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # matplotlib itself is imported when a chart is drawn: the sandbox starts without it
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

SIZE, DPI = (6.4, 2.2), 100  # 640 x 220 pixels: a page of a dozen charts stays a few hundred kB
MAX_LINES, MAX_LEGEND = 20, 8
PURPLE, RED, GREY = "#632ca6", "#e0554d", "#8a8a8a"


@dataclass(frozen=True)
class Line:
    """One series to draw: its legend label, epoch-second times and values (NaN = no data)."""

    label: str
    times: np.ndarray
    values: np.ndarray


def _dates(epochs: Any) -> list[datetime]:
    return [datetime.fromtimestamp(int(t), UTC) for t in epochs]


def _figure(title: str) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=SIZE, dpi=DPI)
    axes = figure.add_subplot()
    axes.set_title(title, fontsize=8, loc="left")
    axes.tick_params(labelsize=7)
    axes.grid(True, linewidth=0.3, alpha=0.6)
    return figure, axes


def _time_axis(axes: Axes, start: int, end: int) -> None:
    from matplotlib.dates import DateFormatter

    # matplotlib converts datetimes through its units registry (a date axis); its stubs only say float
    axes.set_xlim(*_dates([start, end]))  # type: ignore[arg-type]
    axes.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=UTC))


def _no_data(axes: Axes) -> None:
    axes.text(0.5, 0.5, "No data in this window", transform=axes.transAxes, ha="center", va="center", color=GREY)


def data_uri(figure: Figure) -> str:
    """The figure as a `data:image/png;base64,` URI."""
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def timeseries_chart(lines: Sequence[Line], start: int, end: int, *, title: str, bars: bool = False) -> str:
    """Series over [start, end): lines, or stacked bars (a `bars` widget); at most MAX_LINES of them."""
    figure, axes = _figure(title)
    shown = list(lines)[:MAX_LINES]
    if bars and shown:
        width = (float(shown[0].times[1] - shown[0].times[0]) if len(shown[0].times) > 1 else 60.0) / 86400
        bottom: dict[int, float] = {}
        for line in shown:
            values = np.nan_to_num(line.values)
            base = np.array([bottom.get(int(t), 0.0) for t in line.times])
            axes.bar(_dates(line.times), values, width=width, bottom=base,  # type: ignore[arg-type]
                     label=line.label, align="edge")
            bottom.update({int(t): b + v for t, b, v in zip(line.times, base, values)})
    else:
        for line in shown:
            axes.plot(_dates(line.times), line.values, linewidth=1.1, label=line.label)  # type: ignore[arg-type]
    _time_axis(axes, start, end)
    if not shown:
        _no_data(axes)
    elif len(shown) <= MAX_LEGEND:
        axes.legend(fontsize=6, loc="upper left")
    return data_uri(figure)


def toplist_chart(items: Sequence[tuple[str, float | None]], *, title: str, limit: int) -> str:
    """The largest values as horizontal bars, the largest on top (a toplist widget)."""
    figure, axes = _figure(title)
    ranked = sorted(((label, value) for label, value in items if value is not None), key=lambda i: -i[1])[:limit]
    if ranked:
        labels, values = zip(*reversed(ranked))
        axes.barh(list(labels), list(values), color=PURPLE)
        axes.tick_params(axis="y", labelsize=6)
    else:
        _no_data(axes)
    return data_uri(figure)


def band_chart(frame: pd.DataFrame, start: int, end: int, *, title: str) -> str:
    """An anomaly monitor's expected band (grey), the value (purple) and the points outside it (red)."""
    figure, axes = _figure(title)
    groups = list(frame.groupby("group")) if "group" in frame and len(frame) else [(None, frame)]
    for key, part in groups[:MAX_LEGEND]:
        times = _dates(part["time"])
        label = "value" if key is None else str(key)
        axes.fill_between(times, part["lower"].astype(float), part["upper"].astype(float),  # type: ignore[arg-type]
                          color=GREY, alpha=0.3, linewidth=0)
        axes.plot(times, part["value"].astype(float), color=PURPLE if key is None else None,  # type: ignore[arg-type]
                  linewidth=1.1, label=label)
        outside = part[part["anomalous"].astype(bool)]
        axes.scatter(_dates(outside["time"]), outside["value"].astype(float),  # type: ignore[arg-type]
                     color=RED, s=8, zorder=3)
    _time_axis(axes, start, end)
    if not len(frame):
        _no_data(axes)
    else:
        axes.legend(fontsize=6, loc="upper left")
    return data_uri(figure)
