"""The Ops Center as drawn from its JSON tells the truth: widgets that show a maximum keep it (a `max` rollup, so a
budget breach stays over the budget line at any range), lines break at gaps, tables read at 9 pt without cut text;
and the user-latency p95 is one figure on the summary card, in the verdict and on the dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from datadog_api_client import ApiClient

from autonomic_lib.analysis import MOST_EXPENSIVE_MESSAGE, USER_LATENCY_P95, headline, phase_table, query_frame
from autonomic_lib.budget import message_budget
from autonomic_lib.dashboard_view import WidgetData, draw_dashboard, load_dashboard, widget_data
from autonomic_lib.index_page import _cards
from autonomic_lib.expectations import check_expectations
from autonomic_lib.notebook import plain
from autonomic_lib.query.language import MetricQuery, metric_queries, parse_query
from autonomic_lib.render import PhaseSpan, format_number, segments
from autonomic_lib.sandbox.server import SandboxServer
from autonomic_lib.series import Series, submit_series
from tests.conftest import client_for, start_sandbox

ENV = "seedlike"
PHASES = (("baseline", 240), ("budget_breach", 15), ("latency_spike", 30), ("recovery", 20))  # minutes
COST_SPIKES = (0.23, 0.15, 0.27)  # $: single messages over the $0.10 budget, each alone in its 10 s window
LATENCY_PEAK = 81.9  # s: the worst 10 s window's p95 in the latency spikes


def widget(title: str) -> dict[str, Any]:
    """A widget's definition in the dashboard JSON, by title."""
    for group in load_dashboard()["widgets"]:
        for child in group["definition"].get("widgets", [group]):
            if child["definition"].get("title") == title:
                return child["definition"]
    raise KeyError(title)


def queries(title: str) -> dict[str, MetricQuery]:
    return {q["name"]: next(metric_queries(parse_query(q["query"]))) for q in widget(title)["requests"][0]["queries"]}


# ------------------------------------------------------------------------------------------ the JSON
def test_widgets_that_show_a_maximum_roll_up_with_max_as_the_headline_figures_do() -> None:
    """`max:...cost.max{$env}` had no rollup: over 5 h each point averaged 60 s of windows, and the $0.23-0.27
    messages were drawn at $0.06, under the budget line, though the monitor fired 3 times."""
    cost, latency = queries("ChatBot Agent Cost ($ per message)"), queries("User Facing Latency (s)")
    for shown, figure in ((cost["worst"], MOST_EXPENSIVE_MESSAGE), (latency["p95"], USER_LATENCY_P95)):
        assert (shown.space_aggr, shown.metric, shown.rollup_method) == ("max", figure.metric, "max")
    assert ".rollup(max" in widget("ChatBot Agent Cost ($ per message)")["requests"][0]["queries"][1]["query"]


# ------------------------------------------------------------------------------------------ against a sandbox
def seed_like_series(start: int) -> list[Series]:
    """A seed-demo-like run at the Agent's 10 s flushes: cheap fast messages, then the budget breach phase with three
    single over-budget messages, then latency spikes whose worst window reaches LATENCY_PEAK."""
    rng = np.random.default_rng(7)
    out, at = [], start
    for name, minutes in PHASES:
        times = np.arange(at, at + minutes * 60, 10)
        cost = rng.uniform(0.004, 0.012, len(times))
        p95 = rng.uniform(7.0, 12.0, len(times))
        if name == "budget_breach":
            cost[[20, 40, 60]] = COST_SPIKES
        if name == "latency_spike":
            p95[12:36] = rng.uniform(30.0, 60.0, 24)
            p95[20] = LATENCY_PEAK
        tags = [f"env:{ENV}", f"phase:{name}"]
        out += [Series("autonomic.agent.cost.max", times, cost, tags=tags, interval=10),
                Series("autonomic.agent.latency.95percentile", times, p95, tags=tags, interval=10)]
        at += minutes * 60
    return out


@pytest.fixture(scope="module")
def seed_like(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiClient, int, int, list[PhaseSpan]]]:
    """A sandbox that accepts history for autonomic.* (as the demo's does) holding a seed-like run ending now."""
    server: SandboxServer = start_sandbox(tmp_path_factory.mktemp("sandbox"), late_data=("autonomic.*",))
    end = int(pd.Timestamp.now(tz="UTC").floor("min").timestamp()) - 60
    start = end - sum(m for _, m in PHASES) * 60
    spans, at = [], start
    for name, minutes in PHASES:
        spans.append(PhaseSpan(name, pd.Timestamp(at, unit="s", tz="UTC"),
                               pd.Timestamp(at + minutes * 60, unit="s", tz="UTC")))
        at += minutes * 60
    with client_for(server) as client:
        submit_series(client, seed_like_series(start))
        yield client, start, end, spans
    server.stop()


@pytest.mark.api
def test_the_cost_widget_draws_the_breaches_over_the_budget_line(seed_like) -> None:
    client, start, end, _ = seed_like
    drawn = widget_data(client, widget("ChatBot Agent Cost ($ per message)"), ENV, start, end).lines["max"]
    assert drawn.max() == pytest.approx(max(COST_SPIKES)) and drawn.max() > message_budget()
    averaged = query_frame(client, f"max:autonomic.agent.cost.max{{env:{ENV}}}", start, end)["value"]
    assert averaged.max() < message_budget()  # what the widget drew before: the breach averaged away


@pytest.mark.api
def test_the_card_the_verdict_and_the_dashboard_show_one_user_latency_p95(seed_like) -> None:
    """Once 81.9 s on the card (worst minute), 47.0 s in the verdict (95th percentile of windows), ~43 s on the
    dashboard (an average rollup): now `USER_LATENCY_P95` everywhere."""
    client, start, end, spans = seed_like
    figure = USER_LATENCY_P95.value(client, f"env:{ENV}", start, end)
    assert figure == pytest.approx(LATENCY_PEAK)
    card = headline(client, ENV, start, end)
    phases = phase_table(client, ENV, [name for name, _ in PHASES], start, end)
    dashboard = widget_data(client, widget("User Facing Latency (s)"), ENV, start, end).lines["p95"].max()
    assert card["user latency p95 s"] == phases.loc["latency_spike", "user latency p95 s"] == dashboard == figure
    assert phases.loc["budget_breach", "cost max $"] == card["cost max $"] == pytest.approx(max(COST_SPIKES))

    history = pd.DataFrame(columns=["monitor", "group", "from", "to", "at"])
    verdicts = check_expectations(phases=phases, spans={s.name: s for s in spans}, history=history,
                                  ledger_summary=pd.DataFrame(), latency=pd.Series(dtype=float), cases=pd.DataFrame(),
                                  runs=pd.DataFrame(), reconciled=True, compared=1, differ=0, assets={})
    latency_verdict = next(v.observed for v in verdicts if v.expectation.startswith("Latency spikes"))
    latency_card = next(c for c in _cards({"headline": plain(card)}) if c.title == "Latency")
    shown = f"{USER_LATENCY_P95.name} {format_number(figure)} s"
    assert shown in latency_verdict and shown in latency_card.lines[0].text
    assert "10 s window" in latency_card.note and "dashboard" in latency_card.note


# ------------------------------------------------------------------------------------------ drawing
def minutes_at(start: str, values: list[float]) -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="min", tz="UTC"))


def test_role_lines_break_at_gaps_and_tables_read_at_9_pt_whole() -> None:
    """The refiner ran at 02:45 and at 07:20: once a straight line across the 4 h between; log messages were cut
    at 70 characters and tables set at 7 pt."""
    refiner = pd.concat([minutes_at("2026-12-03 02:45", [30.0, 31.0]), minutes_at("2026-12-03 07:20", [35.0, 37.0])])
    roles = WidgetData("timeseries", "Backend Component Latency by role (s)", lines={"refiner": refiner},
                       spec=widget("Backend Component Latency by role (s)"), interval=60)
    message = "Use 'Forgot password' on the sign-in page; the reset link is valid for 30 minutes. " * 2
    logs = WidgetData("log_stream", "Swarm thought process", spec={"type": "log_stream"},
                      table=pd.DataFrame({"time": ["08:16:17"], "agent": [None], "message": [message.strip()]}))
    rules = WidgetData("manage_status", "Active Detection Rules", spec={"type": "manage_status"},
                       table=pd.DataFrame({"monitor": ["Budget breach", "Latency anomaly"], "state": ["OK", "Alert"],
                                           "last triggered": [pd.Timestamp("2026-12-03 06:47", tz="UTC"), pd.NaT]}))
    fig = draw_dashboard({"title": "Ops"}, [({"title": "2. Performance"}, [roles]), ({"title": "5. Logs"}, [logs]),
                                            ({"title": "1. State"}, [rules])])
    try:
        line = fig.axes[0].get_lines()[0]
        assert segments(line.get_ydata()) == 2
        cells = [cell for ax in fig.axes[1:] for table in ax.tables for cell in table.get_celld().values()]
        texts = [cell.get_text().get_text() for cell in cells]
        assert cells and min(cell.get_text().get_fontsize() for cell in cells) * 80 / 96 >= 9  # on the page, at 80 dpi
        assert message.strip() == next(t for t in texts if t.startswith("Use")).replace("\n", " ")
        assert "06:47 UTC" in texts and "–" in texts
        assert not any("..." in t or "NaN" in t or "NaT" in t for t in texts)
    finally:
        plt.close(fig)


def test_the_drawn_dashboard_has_alt_text_naming_its_widgets_and_values() -> None:
    from autonomic_lib.render import figure_alt

    version = WidgetData("query_value", "Current Active Version", scalar=2.0, spec=widget("Current Active Version"))
    fig = draw_dashboard({"title": "Ops"}, [({"title": "1. Live Agent State"}, [version])], subtitle="seed 7")
    try:
        assert figure_alt(fig).startswith("The Ops — seed 7 dashboard")
        assert "Current Active Version v2" in figure_alt(fig)
    finally:
        plt.close(fig)

