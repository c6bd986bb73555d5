"""Charts return real figures with the panels, phase bands and thresholds asked for; lines break at gaps, phase
names never overlap, charts carry alt text; numbers, times and tables read the same everywhere."""

from __future__ import annotations

import base64

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from autonomic_lib.expectations import latency_spikes
from autonomic_lib.render import (Panel, PhaseSpan, break_gaps, figure_alt, figure_data_uri, format_cell, format_number,
                                  format_time, frame_html, plot_line, plural, png_description, register_formats,
                                  segments, timeline)


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


# ------------------------------------------------------------------------------------------ numbers, times, tables
def test_numbers_show_integers_as_integers_and_a_dash_for_nothing() -> None:
    assert format_number(5676.0) == "5676"  # was "5676.000000" in 02's phase tables
    assert format_number(np.float64(86173.0)) == "86173" and format_number(5676, grouping=True) == "5,676"
    assert format_number(81.88631) == "81.89" and format_number(0.0035123) == "0.003512"
    assert format_number(0.27) == "0.27"
    assert format_number(123456.789) == "123456.8"  # never "1.235e+05"
    for nothing in (float("nan"), None, pd.NaT, np.nan):
        assert format_number(nothing) == "–" and format_cell(nothing) == "–"


def test_times_are_hh_mm_utc_whatever_their_form() -> None:
    moment = pd.Timestamp("2026-12-03 06:40:59", tz="UTC")
    assert format_time(moment) == "06:40 UTC"
    assert format_time("2026-12-03T06:40:00+00:00") == format_time(moment.tz_localize(None)) == "06:40 UTC"
    assert format_time(pd.Timestamp("2026-12-03 07:40", tz="Europe/Paris")) == "06:40 UTC"
    assert format_time(moment, zone=False) == "06:40" and format_time(pd.NaT) == "–"


def test_plural_agrees_with_the_count() -> None:
    assert [plural(1, "dashboard"), plural(3, "monitor"), plural(0, "Case"), plural(2, "workflow run")] == [
        "1 dashboard", "3 monitors", "0 Cases", "2 workflow runs"]
    assert plural(1, "series", "series") == "1 series" and plural(1.0, "deployment") == "1 deployment"


def test_frame_html_has_no_nan_no_float_noise_no_cut_text_and_escapes() -> None:
    sentence = "A verdict long enough that pandas would cut it short after fifty characters, which it must not."
    frame = pd.DataFrame({"messages": [5676.0, float("nan")],
                          "at": [pd.Timestamp("2026-12-03 06:40", tz="UTC"), pd.NaT],
                          "observed": [sentence, "<script>x</script>"]})
    page = frame_html(frame)
    assert "NaN" not in page and "None" not in page and "NaT" not in page and "5676.0" not in page
    assert ">5676<" in page and ">06:40 UTC<" in page and ">–<" in page and sentence in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<a href='http://127.0.0.1:1/x'>" in frame_html(pd.DataFrame({"link": ["http://127.0.0.1:1/x"]}),
                                                           links=("link",))


# ------------------------------------------------------------------------------------------ lines across gaps
def test_a_line_with_a_four_hour_gap_is_drawn_as_two_segments() -> None:
    before = minutes([5.0, 6.0, 5.0])
    after = minutes([7.0, 8.0, 7.0]).shift(freq="4h")
    role = pd.concat([before, after])
    assert segments(role.to_numpy()) == 1  # drawn as it is, one straight line across the 4 h
    fig = timeline([Panel("Refiner latency", {"refiner": role}, "s")], [])
    try:
        assert segments(fig.axes[0].get_lines()[0].get_ydata()) == 2
    finally:
        plt.close(fig)
    assert segments(break_gaps(minutes([1.0, 2.0, 3.0, 4.0]), 60).to_numpy()) == 1  # no gap, nothing broken


def test_a_point_standing_alone_between_gaps_still_shows() -> None:
    lone = pd.concat([minutes([1.0, 2.0]), minutes([9.0]).shift(freq="3h")])
    fig, ax = plt.subplots()
    try:
        plot_line(ax, lone, interval=60, label="evaluator")
        drawn, dots = ax.get_lines()
        assert segments(drawn.get_ydata()) == 2 and list(dots.get_ydata()) == [9.0] and dots.get_marker() == "o"
        assert dots.get_label().startswith("_")  # not a second legend entry
    finally:
        plt.close(fig)


# ------------------------------------------------------------------------------------------ phase names
SEED_PHASES = (("baseline", 240), ("budget_breach", 15), ("latency_spike", 30), ("optimization_failure", 30),
               ("recovery", 20))


def seed_like_phases() -> list[PhaseSpan]:
    spans, at = [], pd.Timestamp("2026-12-03 02:40", tz="UTC")
    for name, length in SEED_PHASES:
        spans.append(PhaseSpan(name, at, at + pd.Timedelta(minutes=length)))
        at = spans[-1].end
    return spans


def label_boxes(fig: plt.Figure) -> list:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [t.get_window_extent(renderer) for t in fig.axes[0].texts if t.get_visible()]


def test_phase_names_never_overlap_nor_the_title_even_for_short_phases_side_by_side() -> None:
    phases = seed_like_phases()
    series = pd.Series(1.0, index=pd.date_range(phases[0].start, phases[-1].end, freq="min"))
    fig = timeline([Panel("Pass Rate %", {"rate": series})], phases, title="seed-demo")
    try:
        boxes = label_boxes(fig)
        assert len(boxes) == 5
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
        title = fig.axes[0]._left_title.get_window_extent(fig.canvas.get_renderer())
        assert all(box.y1 <= title.y0 for box in boxes)
        fig.axes[0].set_xlim(phases[1].start, phases[-1].end)  # a zoom: names follow, baseline's goes
        boxes = label_boxes(fig)
        assert len(boxes) == 4 and not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    finally:
        plt.close(fig)


# ------------------------------------------------------------------------------------------ alt text
def test_a_chart_carries_its_description_into_its_png_and_the_kernel_shows_it_as_alt_text() -> None:
    from IPython.core.formatters import DisplayFormatter
    from IPython.display import Image

    fig = timeline([Panel("Cost", {"cost": minutes([0.01, 0.27])}, "USD", threshold=0.1, threshold_label="budget")],
                   [], title="run")
    alt = figure_alt(fig)
    assert alt.startswith("run: 1 panel over time") and "budget" in alt and "0.27" in alt
    display = DisplayFormatter()
    register_formats(display)
    shown, _ = display.format(fig)
    assert shown["text/html"].startswith('<img src="data:image/png;base64,')
    assert 'alt="run: 1 panel' in shown["text/html"]
    uri = figure_data_uri(fig)
    assert png_description(uri) == alt
    assert f'alt="{alt}"' in display.format(Image(url=uri))[0]["text/html"]
    table, _ = display.format(pd.DataFrame({"n": [5676.0, float("nan")]}))
    assert ">5676<" in table["text/html"] and "NaN" not in table["text/html"]


def test_a_chart_shown_under_the_inline_backend_is_drawn_once_for_its_png_and_its_html() -> None:
    """The inline backend's image/png printer (as IPython's select_figure_formats registers it) draws the chart;
    the text/html with alt text embeds that same PNG instead of drawing it again."""
    from functools import partial

    from IPython.core.formatters import DisplayFormatter
    from IPython.core.pylabtools import print_figure
    from matplotlib.figure import Figure

    draws: list[str] = []  # every draw of a figure, by its title (renderers fire draw_event)
    display = DisplayFormatter()
    display.formatters["image/png"].for_type(Figure, partial(print_figure, fmt="png", base64=True,
                                                             bbox_inches="tight"))
    register_formats(display)
    figs = [timeline([Panel(name, {"x": minutes([1.0, 2.0])})], [], title=name) for name in ("one", "first", "second")]
    for fig in figs:
        fig.canvas.mpl_connect("draw_event", lambda event: draws.append(event.canvas.figure.get_suptitle()))
    try:
        print_figure(figs[0], "png", bbox_inches="tight")
        per_png = len(draws)  # the draws one PNG takes
        assert per_png >= 1
        for fig in figs[1:]:
            shown, _ = display.format(fig)
            assert shown["text/html"] == f'<img src="data:image/png;base64,{shown["image/png"]}" ' \
                                         f'alt="{figure_alt(fig)}">'
            assert base64.b64decode(shown["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
        assert draws == ["one"] * per_png + ["first"] * per_png + ["second"] * per_png
        shown, _ = display.format(figs[1])  # shown again: drawn again (nothing stale is reused)
        assert draws[-per_png:] == ["first"] * per_png and len(draws) == 4 * per_png
    finally:
        for fig in figs:
            plt.close(fig)


def test_a_trace_waterfall_is_shown_where_it_is_displayed_not_again_by_pyplot() -> None:
    from autonomic_lib.render import trace_waterfall
    from autonomic_lib.traces import TREE_COLUMNS

    before = plt.get_fignums()
    tree = pd.DataFrame([["message", "workflow", 0.0, 5.0, None, None, None, None, None, "pass"]],
                        columns=list(TREE_COLUMNS))
    fig = trace_waterfall(tree, title="one span")
    assert plt.get_fignums() == before  # the inline backend shows pyplot's open figures at a cell's end
    assert figure_data_uri(fig).startswith("data:image/png;base64,")


def test_a_trace_waterfall_has_a_bar_per_span_in_tree_order_with_tokens_cost_and_verdict() -> None:
    from autonomic_lib.render import trace_waterfall
    from autonomic_lib.traces import TREE_COLUMNS

    tree = pd.DataFrame([["message", "workflow", 0.0, 5.0, None, None, None, None, None, "fail"],
                         ["  chatbot", "llm", 0.0, 3.5, "gemini-2.5-flash", 400_900, 250, 400, 0.1219, None],
                         ["  auditor", "llm", 3.5, 1.5, "gemini-2.5-flash", 401_500, 60, 250, 0.1212, "fail"]],
                        columns=list(TREE_COLUMNS))
    fig = trace_waterfall(tree, title="Budget breach: agent-01")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["message", "  chatbot", "  auditor"]
    assert len(ax.collections) == 3  # one bar per span
    labels = [t.get_text() for t in ax.texts]
    assert "400,900 in / 250 out / 400 thinking" in labels[1] and "$0.1219" in labels[1]
    assert labels[2].endswith("fail")
    assert "chatbot (3.5 s" in figure_alt(fig) and ax.get_title(loc="left") == "Budget breach: agent-01"
    plt.close(fig)
