"""Charts of a run, shared by the reports and the notebooks: metric panels over the scenario's phase bands.

Functions return matplotlib Figures (tests close them); `figure_data_uri` embeds one in a page so
reports open offline with no file beside them.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass

# No backend is chosen here: a kernel shows figures inline (ipykernel's default), a headless process without a
# display falls back to Agg by itself. Forcing Agg once hid every figure a notebook cell returned.
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

PURPLE, GREEN, RED, GREY = "#632ca6", "#3ec28f", "#e0554d", "#8a8a8a"
PHASE_COLOURS = ("#f2eefa", "#fdf3e7", "#fdecec", "#eef7fb", "#f1f8ee", "#f7f7f7")


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


def phase_spans(ledger: object) -> list[PhaseSpan]:
    """The phases of a run's ledger as UTC spans."""
    return [PhaseSpan(name, pd.Timestamp(p.start, unit="s", tz="UTC"), pd.Timestamp(p.end, unit="s", tz="UTC"))
            for name, p in ledger.phases.items()]  # type: ignore[attr-defined]


def timeline(panels: Sequence[Panel], phases: Sequence[PhaseSpan], *, title: str = "") -> Figure:
    """Stacked panels sharing the time axis, each with the phases shaded and named."""
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 2.6 * len(panels)), sharex=True, squeeze=False)
    for ax, panel in zip(axes[:, 0], panels):
        for i, span in enumerate(phases):
            ax.axvspan(span.start, span.end, color=PHASE_COLOURS[i % len(PHASE_COLOURS)], zorder=0)
        if panel.band is not None:
            lower, upper = panel.band
            ax.fill_between(lower.index, lower.values, upper.values, color=GREY, alpha=0.25, label=panel.band_label,
                            step="post")
        for (label, series), colour in zip(panel.lines.items(), panel.colours):
            ax.plot(series.index, series.values, label=label, color=colour, linewidth=1.2,
                    drawstyle="steps-post" if panel.steps else "default")
        if panel.threshold is not None:
            ax.axhline(panel.threshold, color=RED, linestyle="--", linewidth=1, label=panel.threshold_label or None)
        ax.set_title(panel.title, fontsize=10, loc="left")
        ax.set_ylabel(panel.unit)
        ax.grid(alpha=0.3)
        if len(panel.lines) > 1 or panel.threshold_label or panel.band is not None:
            ax.legend(fontsize=8, loc="upper left")
    top = axes[0, 0]
    for span in phases:
        top.annotate(span.name, xy=(span.start + (span.end - span.start) / 2, 1.0), xycoords=("data", "axes fraction"),
                     ha="center", va="bottom", fontsize=7, color=GREY)
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    return fig


def figure_data_uri(fig: Figure, *, dpi: int = 110) -> str:
    """The figure as a base64 PNG data URI, and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


STATE_COLOURS = {"Alert": RED, "Warn": "#f2b705", "No Data": GREY}


def monitor_timeline(history: pd.DataFrame, phases: Sequence[PhaseSpan], onsets: dict[str, pd.Timestamp | None],
                     *, end: pd.Timestamp, title: str = "When each monitor fired, against the phases") -> Figure:
    """One lane per monitor: red while any of its groups alerts, a marker where its signal began."""
    monitors = list(dict.fromkeys(list(onsets) + list(history["monitor"].unique())))
    fig, ax = plt.subplots(figsize=(11, 0.9 + 0.6 * max(len(monitors), 1)))
    for i, span in enumerate(phases):
        ax.axvspan(span.start, span.end, color=PHASE_COLOURS[i % len(PHASE_COLOURS)], zorder=0)
        ax.annotate(span.name, xy=(span.start + (span.end - span.start) / 2, 1.0), xycoords=("data", "axes fraction"),
                    ha="center", va="bottom", fontsize=7, color=GREY)
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
    ax.set_yticks(range(len(monitors)), monitors, fontsize=8)
    ax.set_ylim(-0.6, len(monitors) - 0.4)
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"{title}  (red: Alert; \u25bc: the signal began)", fontsize=10, loc="left", pad=14)
    fig.tight_layout()
    return fig


def zoom(phases: Sequence[PhaseSpan], names: Sequence[str], margin_minutes: float = 10
         ) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The time range covering the named phases, with a margin (to zoom past a long baseline)."""
    margin = pd.Timedelta(minutes=margin_minutes)
    chosen = [p for p in phases if p.name in names] or list(phases)
    return min(p.start for p in chosen) - margin, max(p.end for p in chosen) + margin


def link_table(frame: pd.DataFrame, link_column: str = "link") -> str:
    """A frame as HTML with `link_column` as clickable links (for asset tables in notebooks and reports)."""
    import html as _html

    shown = frame.copy()
    if link_column in shown:
        shown[link_column] = [f"<a href='{_html.escape(str(u))}'>{_html.escape(str(u))}</a>" if u else ""
                              for u in shown[link_column]]
    return shown.to_html(escape=False, index=False, border=0)


def png_data_uri(png: bytes) -> str:
    """PNG bytes (e.g. a graph snapshot) as a data URI for a self-contained page."""
    return "data:image/png;base64," + base64.b64encode(png).decode()
