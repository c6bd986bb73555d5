"""Charts return real figures with the panels, phase bands and thresholds asked for."""

from __future__ import annotations

import base64

import matplotlib.pyplot as plt
import pandas as pd

from autonomic_lib.demo import latency_spikes
from autonomic_lib.render import Panel, PhaseSpan, figure_data_uri, timeline


def minutes(values: list[float]) -> pd.Series:
    return pd.Series(values, index=pd.date_range("2026-01-01", periods=len(values), freq="min", tz="UTC"))


def test_timeline_has_one_axis_per_panel_with_phase_bands_and_threshold() -> None:
    cost = minutes([0.01, 0.2, 0.01, 0.01])
    phases = [PhaseSpan("baseline", cost.index[0], cost.index[2]), PhaseSpan("budget", cost.index[2], cost.index[3])]
    fig = timeline([Panel("Cost", {"cost": cost}, "USD", threshold=0.1, threshold_label="budget"),
                    Panel("Rate", {"a": cost * 100, "b": cost * 50}, "%", steps=True)], phases, title="run")
    try:
        axes = fig.get_axes()
        assert [ax.get_title(loc="left") for ax in axes] == ["Cost", "Rate"]
        assert len(axes[0].patches) == 2  # one shaded band per phase
        assert [line.get_label() for line in axes[0].get_lines()] == ["cost", "budget"]
        assert axes[1].get_lines()[0].get_drawstyle() == "steps-post"
        assert {t.get_text() for t in axes[0].texts} == {"baseline", "budget"}
    finally:
        plt.close(fig)


def test_figure_data_uri_is_a_png() -> None:
    fig = timeline([Panel("x", {"x": minutes([1.0, 2.0])})], [])
    uri = figure_data_uri(fig)
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_latency_spikes_counts_separate_runs_above_the_threshold() -> None:
    assert latency_spikes(minutes([5, 26, 27, 5, 5, 25, 5, 30, 30])) == 3
    assert latency_spikes(minutes([26, 5])) == 1
    assert latency_spikes(minutes([5, 6, 7])) == 0
