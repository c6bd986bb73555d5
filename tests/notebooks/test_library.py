"""The notebooks' library pieces on tiny inputs: records, key scrubbing, formulas and conditional formats of the
dashboard, the monitor timeline chart, verdicts and the cost estimate."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from autonomic_lib.dashboard_view import conditional_colours, evaluate_formula, load_dashboard
from autonomic_lib.expectations import PRICE_SOURCE, cost_estimate, latency_spikes
from autonomic_lib.notebook import KEY_PATTERN, RecordError, plain, records_of, scrub
from autonomic_lib.render import PhaseSpan, monitor_timeline

T0 = pd.Timestamp("2026-01-01 00:00", tz="UTC")


def test_plain_turns_frames_times_and_nan_into_json_data() -> None:
    frame = pd.DataFrame({"phase": ["a", "b"], "rate": [1.5, float("nan")]}).set_index("phase")
    assert plain(frame) == [{"phase": "a", "rate": 1.5}, {"phase": "b", "rate": None}]
    assert plain({"at": T0, "never": pd.NaT}) == {"at": "2026-01-01T00:00:00+00:00", "never": None}
    with pytest.raises(RecordError, match="cannot record a object"):
        plain(object())


def test_records_are_read_back_by_name_and_the_last_one_wins() -> None:
    import nbformat

    def out(name: str, data: object) -> dict:
        return nbformat.v4.new_output("display_data", data={"application/vnd.autonomic.record+json":
                                                             {"name": name, "data": data}})
    cell = nbformat.v4.new_code_cell("x", outputs=[out("a", 1), out("b", [1, 2]), out("a", 3)])
    assert records_of(nbformat.v4.new_notebook(cells=[cell])) == {"a": 3, "b": [1, 2]}


def test_scrub_removes_known_secrets_and_anything_shaped_like_a_key_but_not_digests() -> None:
    api, app, digest = "a" * 32, "b1" * 20, "c" * 64
    text = scrub(f"api={api} app={app} secret=hunter2 digest={digest}", ["hunter2"])
    assert api not in text and app not in text and "hunter2" not in text
    assert digest in text and KEY_PATTERN.search(digest) is None


def test_dashboard_formulas_allow_keyword_names_and_divide_safely() -> None:
    assert evaluate_formula("pass / (pass + fail) * 100", {"pass": 3.0, "fail": 1.0}) == 75.0
    assert math.isnan(evaluate_formula("success / (success + failed) * 100", {"success": 0.0, "failed": 0.0}))
    with pytest.raises(ValueError, match="unsupported"):
        evaluate_formula("__import__('os')", {})


def test_conditional_formats_apply_in_order_as_the_dashboard_json_says() -> None:
    dashboard = load_dashboard()
    groups = {w["definition"]["title"]: w["definition"] for w in dashboard["widgets"]}
    pass_rate = next(w["definition"] for w in groups["3. Auditor & Quality Control"]["widgets"]
                     if w["definition"]["title"] == "Pass Rate %")
    formats = pass_rate["requests"][0]["conditional_formats"]
    assert conditional_colours(42.0, formats)[0] == "#e0554d"  # below 50 %: red
    assert conditional_colours(97.0, formats)[0] == "#3ec28f"
    assert conditional_colours(float("nan"), formats) == ("#ffffff", "#222222")


def test_monitor_timeline_draws_one_lane_per_monitor_with_alert_spans() -> None:
    history = pd.DataFrame([
        {"monitor": "Budget breach", "group": "agent_id:a", "from": "OK", "to": "Alert", "at": T0 + pd.Timedelta("5min")},
        {"monitor": "Budget breach", "group": "agent_id:a", "from": "Alert", "to": "OK", "at": T0 + pd.Timedelta("9min")},
    ])
    phases = [PhaseSpan("incident", T0, T0 + pd.Timedelta("20min"))]
    fig = monitor_timeline(history, phases, {"Budget breach": T0 + pd.Timedelta("4min"), "Latency anomaly": None},
                           end=T0 + pd.Timedelta("20min"))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Budget breach", "Latency anomaly"]
    assert len(ax.collections) == 1  # one red span: the alert from minute 5 to 9
    plt.close(fig)


def test_cost_estimate_prices_series_and_logs_and_states_its_source() -> None:
    cardinality = pd.DataFrame({"series": [150, 50]}, index=["m1", "m2"])
    costs = cost_estimate(cardinality, logs=3_650, run_seconds=3600)
    assert costs.loc["custom metrics (distinct series)", "per month $"] == pytest.approx(10.0)  # 200 x $5/100
    assert costs.loc["logs indexed (millions per month)", "quantity"] == pytest.approx(3_650 * 730 / 1e6)
    assert costs.loc["total", "per month $"] == pytest.approx(costs["per month $"].iloc[:-1].sum())
    assert "ASSUMPTION" in costs.attrs["source"] == PRICE_SOURCE


def test_latency_spikes_count_separate_runs_above_the_threshold() -> None:
    minutes = pd.Series([2, 20, 25, 3, 18, 2, 2, 30.0])
    assert latency_spikes(minutes) == 3


def test_verdicts_and_the_environment_count_in_words_that_agree() -> None:
    from autonomic_lib.expectations import check_expectations
    from autonomic_lib.tables import environment

    empty = pd.DataFrame()
    verdicts = check_expectations(phases=pd.DataFrame({"deployments": [1.0]}, index=["recovery"]), spans={},
                                  history=empty, ledger_summary=empty, latency=pd.Series(dtype=float), cases=empty,
                                  runs=empty, reconciled=True, compared=1, differ=0,
                                  assets={"dashboard": 1, "monitor": 4, "workflow": 1})
    assert verdicts[0].observed == "1 dashboard, 4 monitors, 1 workflow"  # once "1 dashboard(s), 3 monitor(s), ..."
    assert [v.observed for v in verdicts[1:]] == ["1 deployment", "1 series, log groups and events compared, 0 differ"]
    assert environment().loc["assets", "value"] == "1 dashboard, 4 monitors, 1 workflow"


def test_the_plan_summary_keeps_a_url_out_of_bold_markdown() -> None:
    """`**sandbox http://127.0.0.1:38489**` rendered as literal ** inside the link markdown made of the URL."""
    from pathlib import Path

    from autonomic_lib.run_plan import RunPlan
    from autonomic_lib.session import Session
    from autonomic_lib.settings import Settings
    from autonomic_lib.tables import plan_summary

    settings = Settings(host="http://127.0.0.1:38489")
    plan = RunPlan(backend="sandbox", target=settings.target, scenario="seed-demo", seed=7, pacing="backfill")
    text = plan_summary(Session(settings, Path("."), plan))
    assert "`sandbox http://127.0.0.1:38489`" in text and "38489**" not in text
    assert "4 agents, 5 phases" in text
