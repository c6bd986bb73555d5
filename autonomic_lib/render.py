"""How a run is shown, shared by the reports and the notebooks: charts (metric panels over the scenario's phase
bands) and the numbers, times and tables around them, formatted one way everywhere.

Functions return matplotlib Figures (tests close them); `figure_data_uri` embeds one in a page, its description
written into the PNG so a page can give it as alt text, and reports open offline with no file beside them.
Imported in a kernel, the module shows DataFrames and charts the same way (`show_in_kernel`).
"""

from __future__ import annotations

import base64
import copy
import html
import io
import math
import struct
import weakref
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
# matplotlib is imported by the functions that draw (0.5-1 s of a kernel's start; 00 and 02 draw nothing). No
# backend is chosen here: a kernel shows figures inline (ipykernel's default), a headless process without a display
# falls back to Agg by itself. Forcing Agg once hid every figure a notebook cell returned.

PURPLE, GREEN, RED, GREY = "#632ca6", "#3ec28f", "#e0554d", "#8a8a8a"
PHASE_COLOURS = ("#f2eefa", "#fdf3e7", "#fdecec", "#eef7fb", "#f1f8ee", "#f7f7f7")
LABEL_GREY = "#555555"
DASH = "–"  # what a table shows for a missing value, never "NaN" or "None"
GAP_INTERVALS = 3  # a line breaks where consecutive points are more than this many intervals apart
PHASE_LABEL_SIZE = 8


# ------------------------------------------------------------------------------------------ numbers and times
def missing(value: object) -> bool:
    """None, NaN, NaT or pd.NA: nothing to show."""
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def format_number(value: object, digits: int = 4, *, grouping: bool = False) -> str:
    """5676.0 -> "5676", 81.8863 -> "81.89", 0.0035123 -> "0.003512", NaN -> "–": integers as integers, other
    numbers to `digits` significant digits with at least one decimal, never in scientific notation."""
    if missing(value):
        return DASH
    number = float(value)  # type: ignore[arg-type]
    comma = "," if grouping else ""
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):{comma}}"
    decimals = max(1, digits - 1 - math.floor(math.log10(abs(number))))
    text = f"{number:{comma}.{decimals}f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def format_time(value: object, *, zone: bool = True) -> str:
    """A moment (Timestamp, datetime or ISO text; naive means UTC) as "HH:MM UTC" ("HH:MM" without `zone`, for a
    list that names the zone once); missing -> "–"."""
    if missing(value):
        return DASH
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%H:%M UTC" if zone else "%H:%M")


def format_cell(value: object) -> str:
    """One table cell: a dash when missing, numbers by `format_number`, moments by `format_time`, else the text."""
    if missing(value):
        return DASH
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return format_number(value)
    if isinstance(value, (pd.Timestamp, datetime)):
        return format_time(value)
    return str(value)


def plural(count: float, noun: str, many: str | None = None) -> str:
    """"1 dashboard", "3 monitors", "2 workflow runs": the count, and the noun agreeing with it."""
    return f"{format_number(count, grouping=True)} {noun if count == 1 else many or noun + 's'}"


def frame_html(frame: pd.DataFrame, *, index: bool = True, links: Sequence[str] = (), max_rows: int | None = None
               ) -> str:
    """A frame as an HTML table, every cell through `format_cell` (no "NaN", integers as integers, times as
    HH:MM UTC) and never cut short; `links` columns as links; past `max_rows`, the first and last rows."""
    shown = frame
    if max_rows is not None and len(frame) > max_rows:
        shown = pd.concat([frame.head(max_rows // 2), frame.tail(max_rows - max_rows // 2)])

    def cell(column: Any, value: object) -> str:
        if column in links:
            return f"<a href='{html.escape(str(value))}'>{html.escape(str(value))}</a>" if not missing(value) \
                and value else ""
        return html.escape(format_cell(value))

    cells = pd.DataFrame({i: [cell(c, v) for v in shown.iloc[:, i]] for i, c in enumerate(shown.columns)},
                         index=shown.index)
    cells.columns = pd.Index([html.escape(str(c)) for c in shown.columns])
    if not isinstance(shown.index, pd.MultiIndex):
        cells.index = pd.Index([html.escape(format_cell(v)) for v in shown.index],
                               name=html.escape(str(shown.index.name)) if shown.index.name is not None else None)
    table = cells.to_html(escape=False, index=index, border=0, na_rep=DASH)
    if len(shown) < len(frame):
        table += f"<p>the first and last {max_rows // 2 if max_rows else 0} of {len(frame)} rows</p>"
    return table


def link_table(frame: pd.DataFrame, link_column: str = "link") -> str:
    """A frame as HTML with `link_column` as clickable links (for asset tables in notebooks and reports)."""
    return frame_html(frame, index=False, links=(link_column,))


# ------------------------------------------------------------------------------------------ lines with gaps
def break_gaps(series: pd.Series, interval: float | None = None, *, factor: float = GAP_INTERVALS) -> pd.Series:
    """`series` (time-indexed) with a NaN in every gap longer than `factor` intervals, so a line shows the gap
    instead of a straight line across it. The interval is the query's (s), else the series' median step."""
    if len(series) < 2 or not isinstance(series.index, pd.DatetimeIndex):
        return series
    ordered = series.sort_index()
    steps = np.diff(ordered.index.as_unit("ns").asi8) / 1e9
    typical = float(interval) if interval else float(np.median(steps))
    after = np.flatnonzero(steps > factor * typical)
    if not len(after):
        return ordered
    breaks = pd.Series(np.nan, index=ordered.index[after] + pd.Timedelta(seconds=typical))
    return pd.concat([ordered, breaks]).sort_index()


def segments(values: Sequence[float] | np.ndarray) -> int:
    """How many separate runs of drawn (non-NaN) points a line has: what a reader sees as separate lines."""
    drawn = ~np.isnan(np.asarray(values, dtype=float))
    return int(drawn[0]) + int(np.sum(drawn[1:] & ~drawn[:-1])) if len(drawn) else 0


def plot_line(ax: Axes, series: pd.Series, *, interval: float | None = None, **style: Any) -> Line2D:
    """Draw `series` as a line broken at its gaps (`break_gaps`), with a dot for a point standing alone (a line
    of one point draws nothing)."""
    broken = break_gaps(series, interval)
    values = broken.to_numpy(dtype=float)
    line = ax.plot(broken.index, values, **style)[0]
    before, after = np.r_[np.nan, values[:-1]], np.r_[values[1:], np.nan]
    alone = ~np.isnan(values) & np.isnan(before) & np.isnan(after)
    if alone.any():
        ax.plot(broken.index[alone], values[alone], linestyle="none", marker="o", markersize=3,
                color=line.get_color(), label=f"_{line.get_label()} alone")
    return line


def time_axis(ax: Axes, *, label: bool = True) -> None:
    """Times on the x axis as HH:MM, in UTC (said once, in the axis label)."""
    import matplotlib.dates as mdates

    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz="UTC"))
    if label:
        ax.set_xlabel("time (UTC)", fontsize=8)


# ------------------------------------------------------------------------------------------ charts
@dataclass(frozen=True)
class PhaseSpan:
    """A named stretch of the timeline (UTC)."""

    name: str
    start: pd.Timestamp
    end: pd.Timestamp


@dataclass(frozen=True)
class Panel:
    """One chart row: lines (label -> series indexed by UTC time), a unit, optional threshold line."""

    title: str
    lines: dict[str, pd.Series]
    unit: str = ""
    threshold: float | None = None
    threshold_label: str = ""
    colours: Sequence[str] = (PURPLE, GREEN, RED, GREY)
    steps: bool = False  # cumulative quantities hold their value until the next change
    band: tuple[pd.Series, pd.Series] | None = None  # (lower, upper), e.g. an anomaly monitor's expected band
    band_label: str = "expected band"

    def describe(self) -> str:
        """The panel in words, for alt text: its lines' ranges and its threshold."""
        ranges = [f"{label} {format_number(s.min())} to {format_number(s.max())}{' ' + self.unit if self.unit else ''}"
                  for label, s in self.lines.items() if not s.dropna().empty]
        limit = f", against the {self.threshold_label or format_number(self.threshold)} line" \
            if self.threshold is not None else ""
        return f"{self.title}: {', '.join(ranges) or 'no data'}{limit}"


def phase_spans(ledger: object) -> list[PhaseSpan]:
    """The phases of a run's ledger as UTC spans."""
    return [PhaseSpan(name, pd.Timestamp(p.start, unit="s", tz="UTC"), pd.Timestamp(p.end, unit="s", tz="UTC"))
            for name, p in ledger.phases.items()]  # type: ignore[attr-defined]


def label_phases(ax: Axes, phases: Sequence[PhaseSpan], *, title: str = "", fontsize: float = PHASE_LABEL_SIZE
                 ) -> int:
    """Name each phase above its band, stacking names on rows so that none overlaps another (short phases side
    by side), with the axes' `title` (left) above them; again whenever the x range changes (a zoom). Returns the
    rows used."""
    import matplotlib.dates as mdates

    texts = [ax.annotate(span.name, xy=(mdates.date2num(span.start), 1.0), xycoords=("data", "axes fraction"),
                         xytext=(0, 2), textcoords="offset points", ha="center", va="bottom", fontsize=fontsize,
                         color=LABEL_GREY, annotation_clip=False) for span in phases]

    def place(_: object = None) -> int:
        left, right = ax.get_xlim()
        width = ax.get_window_extent().width or 1.0
        rows: list[float] = []  # right edge (px) of the last name on each row
        for span, text in zip(phases, texts):
            start, end = max(mdates.date2num(span.start), left), min(mdates.date2num(span.end), right)
            text.set_visible(bool(start < end))
            if start >= end:
                continue
            centre = (start + end) / 2
            text.xy = (centre, 1.0)
            x, half = (centre - left) / (right - left) * width, text.get_window_extent().width / 2 + 4
            row = next((i for i, edge in enumerate(rows) if edge <= x - half), len(rows))
            rows[row:row + 1] = [x + half]
            text.xyann = (0, 2 + row * (fontsize + 3))
        if title:
            ax.set_title(title, fontsize=10, loc="left", pad=6 + len(rows) * (fontsize + 3))
        return len(rows)

    ax.callbacks.connect("xlim_changed", place)
    return place()


def timeline(panels: Sequence[Panel], phases: Sequence[PhaseSpan], *, title: str = "") -> Figure:
    """Stacked panels sharing the time axis, each with the phases shaded, the phases named above the first."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 2.6 * len(panels)), sharex=True, squeeze=False)
    for number, (ax, panel) in enumerate(zip(axes[:, 0], panels)):
        for i, span in enumerate(phases):
            ax.axvspan(span.start, span.end, color=PHASE_COLOURS[i % len(PHASE_COLOURS)], zorder=0)
        if panel.band is not None:
            lower, upper = panel.band
            ax.fill_between(lower.index, lower.values, upper.values, color=GREY, alpha=0.25, label=panel.band_label,
                            step="post")
        for (label, series), colour in zip(panel.lines.items(), panel.colours):
            if panel.steps:  # a cumulative step holds its value: no gap to break
                ax.plot(series.index, series.values, label=label, color=colour, linewidth=1.2, drawstyle="steps-post")
            else:
                plot_line(ax, series, interval=series.attrs.get("interval"), label=label, color=colour, linewidth=1.2)
        if panel.threshold is not None:
            ax.axhline(panel.threshold, color=RED, linestyle="--", linewidth=1, label=panel.threshold_label or None)
        if number == 0:
            label_phases(ax, phases, title=panel.title)
        else:
            ax.set_title(panel.title, fontsize=10, loc="left")
        ax.set_ylabel(panel.unit)
        ax.grid(alpha=0.3)
        time_axis(ax, label=number == len(panels) - 1)
        if len(panel.lines) > 1 or panel.threshold_label or panel.band is not None:
            ax.legend(fontsize=8, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    if len(panels):
        axes[0, 0].set_xlim(axes[0, 0].get_xlim())  # names placed again on the final layout
    names = ", ".join(p.name for p in phases)
    return describe(fig, f"{title or 'Chart'}: {plural(len(panels), 'panel')} over time (UTC), phases shaded"
                         f"{' (' + names + ')' if names else ''}. " + "; ".join(p.describe() for p in panels) + ".")


STATE_COLOURS = {"Alert": RED, "Warn": "#f2b705", "No Data": GREY}


def monitor_timeline(history: pd.DataFrame, phases: Sequence[PhaseSpan], onsets: dict[str, pd.Timestamp | None],
                     *, end: pd.Timestamp, title: str = "When each monitor fired, against the phases") -> Figure:
    """One lane per monitor: red while any of its groups alerts, a marker where its signal began."""
    import matplotlib.pyplot as plt

    monitors = list(dict.fromkeys(list(onsets) + list(history["monitor"].unique())))
    fig, ax = plt.subplots(figsize=(11, 0.9 + 0.6 * max(len(monitors), 1)))
    for i, span in enumerate(phases):
        ax.axvspan(span.start, span.end, color=PHASE_COLOURS[i % len(PHASE_COLOURS)], zorder=0)
    words = []
    for lane, monitor in enumerate(monitors):
        rows = history[history["monitor"] == monitor]
        for group, changes in rows.groupby("group"):
            changes = changes.sort_values("at")
            state, since = "OK", None
            for change in changes.itertuples():
                if state in STATE_COLOURS and since is not None:
                    ax.broken_barh([(since, change.at - since)], (lane - 0.3, 0.6), color=STATE_COLOURS[state])
                state, since = change.to, change.at
            if state in STATE_COLOURS and since is not None:
                ax.broken_barh([(since, end - since)], (lane - 0.3, 0.6), color=STATE_COLOURS[state], alpha=0.6)
        onset = onsets.get(monitor)
        if onset is not None:
            ax.plot([onset], [lane], marker="v", color="black", markersize=7)
        alerts = sorted({format_time(t, zone=False) for t in rows[rows["to"] == "Alert"]["at"]})
        words.append(f"{monitor} alerted at {', '.join(alerts)} UTC" if alerts else f"{monitor} never alerted")
    ax.set_yticks(range(len(monitors)), monitors, fontsize=8)
    ax.set_ylim(-0.6, len(monitors) - 0.4)
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    time_axis(ax)
    label_phases(ax, phases, title=f"{title}  (red: Alert; \u25bc: the signal began)")
    fig.tight_layout()
    ax.set_xlim(ax.get_xlim())
    return describe(fig, f"{title}: one lane per monitor, red while it alerts. " + "; ".join(words) + ".")


def zoom(phases: Sequence[PhaseSpan], names: Sequence[str], margin_minutes: float = 10
         ) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The time range covering the named phases, with a margin (to zoom past a long baseline)."""
    margin = pd.Timedelta(minutes=margin_minutes)
    chosen = [p for p in phases if p.name in names] or list(phases)
    return min(p.start for p in chosen) - margin, max(p.end for p in chosen) + margin


def trace_waterfall(tree: pd.DataFrame, *, title: str) -> Figure:
    """One trace as a waterfall (`traces.span_tree`): a bar per span from its start for its duration, in tree order,
    labelled with its tokens (in / out / thinking), cost and verdict; LLM spans in purple, the others grey."""
    from matplotlib.figure import Figure

    # not a pyplot figure: shown where the caller displays it, not a second time by the inline backend at cell end
    fig = Figure(figsize=(11, 0.8 + 0.42 * max(len(tree), 1)))
    ax = fig.subplots()
    words = []
    for lane, span in enumerate(tree.to_dict("records")):
        start, duration = float(span["start s"]), float(span["duration s"])
        failed = span["verdict"] == "fail" and span["kind"] != "workflow"
        ax.broken_barh([(start, max(duration, 1e-3))], (lane - 0.35, 0.7),
                       color=RED if failed else PURPLE if span["kind"] == "llm" else GREY)
        detail = [f"{format_number(duration, 3)} s"]
        if not missing(span["input tokens"]):
            tokens = [format_number(span[c], grouping=True) for c in ("input tokens", "output tokens", "thinking tokens")]
            detail.append("{} in / {} out / {} thinking".format(*tokens))
        if not missing(span["cost $"]):
            detail.append(f"${float(span['cost $']):.4f}")
        if not missing(span["verdict"]):
            detail.append(str(span["verdict"]))
        ax.text(start + duration, lane, "  " + ", ".join(detail), va="center", fontsize=7, color=LABEL_GREY)
        words.append(f"{str(span['span']).strip()} ({', '.join(detail)})")
    ax.set_yticks(range(len(tree)), list(tree["span"]), fontsize=8, fontfamily="monospace")
    ax.set_ylim(-0.6, len(tree) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel("seconds from the trace's start")
    ax.grid(axis="x", alpha=0.3)
    right = float((tree["start s"] + tree["duration s"]).max()) if len(tree) else 1.0
    ax.set_xlim(0, right * 1.45 or 1.0)  # room for the labels right of the longest bar
    ax.set_title(title, loc="left", fontsize=10)
    fig.tight_layout()
    return describe(fig, f"{title}: " + "; ".join(words) + ".")


# ------------------------------------------------------------------------------------------ images
_ALT: weakref.WeakKeyDictionary[Figure, str] = weakref.WeakKeyDictionary()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def describe(fig: Figure, text: str) -> Figure:
    """Give a chart its description in words: the alt text of every page and notebook that shows it."""
    _ALT[fig] = text
    return fig


def figure_alt(fig: Figure) -> str:
    """The chart's description (`describe`), else one made from its titles."""
    if fig in _ALT:
        return _ALT[fig]
    titles = [t for ax in fig.axes for t in (ax.get_title(loc="left"), ax.get_title()) if t]
    head = fig.get_suptitle()
    return f"Chart{': ' + head if head else ''}{' (' + '; '.join(titles) + ')' if titles else ''}"


def figure_data_uri(fig: Figure, *, dpi: int = 110) -> str:
    """The figure as a base64 PNG data URI carrying its description (`png_description`), and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Description": figure_alt(fig)})
    plt.close(fig)
    return png_data_uri(buf.getvalue())


def png_data_uri(png: bytes) -> str:
    """PNG bytes (e.g. a graph snapshot) as a data URI for a self-contained page."""
    return "data:image/png;base64," + base64.b64encode(png).decode()


def png_description(png: bytes | str) -> str | None:
    """The Description text a PNG (bytes or data URI) carries, as `figure_data_uri` writes it; None if none."""
    if isinstance(png, str):
        png = base64.b64decode(png.partition(",")[2]) if png.startswith("data:image/png;base64,") else b""
    if png[:8] != PNG_SIGNATURE:
        return None
    at = 8
    while at + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        body, at = png[at + 8:at + 8 + length], at + 12 + length
        key, _, rest = body.partition(b"\0")
        if kind == b"tEXt" and key == b"Description":
            return rest.decode("latin-1")
        if kind == b"iTXt" and key == b"Description":  # flag, method, language\0, translated keyword\0, text
            text = rest[2:].split(b"\0", 2)[-1]
            return (zlib.decompress(text) if rest[:1] == b"\x01" else text).decode("utf-8")
        if kind == b"IEND":
            break
    return None


# ------------------------------------------------------------------------------------------ in a kernel
def figure_html(fig: Figure, png: bytes | str | None = None) -> str | None:
    """A chart as an <img> with its description as alt text (nbconvert writes none for a PNG output); `png`: the
    chart already drawn (bytes or base64 text)."""
    from IPython.core.pylabtools import print_figure

    png = png if png is not None else print_figure(fig, "png", bbox_inches="tight")
    uri = png_data_uri(png) if isinstance(png, bytes) else f"data:image/png;base64,{png}"
    return f'<img src="{uri}" alt="{html.escape(figure_alt(fig))}">' if png else None


class DrawnOnce:
    """The image/png printer of charts, wrapping the inline backend's own (its dpi, retina): a chart's PNG is drawn
    once for both of its outputs, image/png and the text/html with alt text. IPython formats the mime bundle
    (which draws, through `draw`) before the per-MIME image/png, which then takes the PNG just drawn."""

    def __init__(self, printer: Any):
        self.printer = printer
        self.drawn: weakref.WeakKeyDictionary[Figure, Any] = weakref.WeakKeyDictionary()

    def __call__(self, fig: Figure) -> Any:
        drawn = self.drawn.pop(fig, None)
        return drawn if drawn is not None else self.printer(fig)

    def draw(self, fig: Figure) -> bytes | str | None:
        drawn = self.drawn[fig] = self.printer(fig)
        png = drawn[0] if isinstance(drawn, tuple) else drawn  # retina: (data, size metadata)
        return png if isinstance(png, (bytes, str)) else None


def figure_bundle(fig: Figure, png_formatter: Any) -> dict[str, Any]:
    """The text/html of a chart (`figure_html`), drawn by the backend's image/png printer when there is one, which
    is then wrapped (`DrawnOnce`) so the image/png output reuses that drawing."""
    if not fig.axes:
        return {}
    from matplotlib.figure import Figure

    try:
        printer = png_formatter.lookup_by_type(Figure)
    except KeyError:  # no inline backend (yet): the HTML only, as it always was
        return {"text/html": figure_html(fig)}
    if not isinstance(printer, DrawnOnce):
        printer = DrawnOnce(printer)
        png_formatter.for_type(Figure, printer)
    return {"text/html": figure_html(fig, printer.draw(fig))}


def image_html(image: Any) -> str | None:
    """An IPython Image as an <img> with alt text: its own, else the description its PNG carries."""
    data = image.data if image.embed else image.url
    alt = image.alt or (png_description(data) if isinstance(data, (bytes, str)) else None)
    if not image.embed:
        shown = copy.copy(image)
        shown.alt = alt
        return str(shown._repr_html_())
    if image.format != "png" or not alt:
        return None  # the PNG output as it is
    return f'<img src="{png_data_uri(data)}" alt="{html.escape(alt)}">'


def register_formats(display: Any) -> None:
    """Make an IPython DisplayFormatter show DataFrames through `frame_html` and charts and images with alt text."""
    html_formatter = display.formatters["text/html"]
    html_formatter.for_type(pd.DataFrame, lambda frame: frame_html(frame, max_rows=pd.get_option("display.max_rows")))
    html_formatter.for_type_by_name("IPython.core.display", "Image", image_html)
    # On the mime-bundle formatter: activating the inline backend (at the first figure) pops every per-type printer
    # of Figure from the per-MIME formatters; the bundle adds text/html beside the backend's image/png.
    # By name, so registering does not import matplotlib.
    png_formatter = display.formatters["image/png"]
    display.mimebundle_formatter.for_type_by_name("matplotlib.figure", "Figure",
                                                  lambda fig: figure_bundle(fig, png_formatter))


def show_in_kernel() -> bool:
    """In an IPython kernel, `register_formats` on its display; elsewhere nothing. Runs on import, so every notebook
    that uses the kit shows tables and charts one way. Returns whether it registered."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    register_formats(shell.display_formatter)
    return True


show_in_kernel()
