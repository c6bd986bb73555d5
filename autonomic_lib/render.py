"""Charts of a run, shared by the reports and the notebooks: metric panels over the scenario's phase bands.

Functions return matplotlib Figures (tests close them); `figure_data_uri` embeds one in a page so
reports open offline with no file beside them.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # reports render headless; notebooks switch to inline themselves

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

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
        for (label, series), colour in zip(panel.lines.items(), panel.colours):
            ax.plot(series.index, series.values, label=label, color=colour, linewidth=1.2,
                    drawstyle="steps-post" if panel.steps else "default")
        if panel.threshold is not None:
            ax.axhline(panel.threshold, color=RED, linestyle="--", linewidth=1, label=panel.threshold_label or None)
        ax.set_title(panel.title, fontsize=10, loc="left")
        ax.set_ylabel(panel.unit)
        ax.grid(alpha=0.3)
        if len(panel.lines) > 1 or panel.threshold_label:
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
