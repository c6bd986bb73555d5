"""Rolling windows are read in one place: good windows, bad windows and their message, the same everywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from autonomic_lib.assets import lint_assets
from autonomic_lib.errors import IntakeError, QueryError, UnsupportedQueryError
from autonomic_lib.query.language import parse_monitor
from autonomic_lib.query.windows import SHIFT_FORM, WINDOW_FORM, shift_seconds, window_seconds
from autonomic_lib.sandbox.monitors.model import normalise_monitor

LATENCY = Path(__file__).resolve().parents[2] / "assets/monitors/latency_anomaly.json"


@pytest.mark.parametrize("text, seconds", [
    ("last_1m", 60), ("last_15m", 900), ("last_90m", 5400), ("last_4h", 14400), ("last_1d", 86400),
    ("last_2d", 172800), ("last_1w", 604800), ("last_015m", 900),
])
def test_good_windows(text: str, seconds: int) -> None:
    assert window_seconds(text) == seconds


@pytest.mark.parametrize("text", ["last_0m", "last_5x", "last_5", "last_m", "15m", "last_15M", "Last_15m", " last_15m",
                                  "last_-1m", "last_1.5h", "last_15min", "", None, 15])
def test_bad_windows_name_the_text_and_the_accepted_form(text: Any) -> None:
    with pytest.raises(QueryError) as caught:
        window_seconds(text)
    assert not isinstance(caught.value, UnsupportedQueryError)
    assert str(caught.value) == f"bad window {text!r}: expected {WINDOW_FORM}"


def test_cumulative_windows_are_no_rolling_window() -> None:
    """A cumulative window is a metric monitor's window only (anomalies' alert_window, threshold_windows: no)."""
    with pytest.raises(UnsupportedQueryError, match=r"cumulative window 'current_1mo' is not supported here"):
        window_seconds("current_1mo")


@pytest.mark.parametrize("text, seconds", [("5m_ago", 300), ("1h_ago", 3600), ("1d_ago", 86400),
                                           ("last_1h", 3600), ("1w_ago", 604800)])
def test_timeshifts(text: str, seconds: int) -> None:
    assert shift_seconds(text) == seconds


@pytest.mark.parametrize("text", ["0m_ago", "5x_ago", "5m", "ago", "current_1d", "9999999w_ago", "last_0m"])
def test_bad_timeshifts_name_the_form(text: str) -> None:
    with pytest.raises(QueryError, match=f"bad timeshift {text!r}: expected {SHIFT_FORM}"):
        shift_seconds(text)


@pytest.mark.parametrize("window", ["last_0m", "last_5x"])
def test_the_monitor_grammar_refuses_a_bad_window_with_the_same_words(window: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_monitor(f"avg({window}):avg:m{{*}} > 1")
    assert str(caught.value) == f"bad window {window!r}: expected {WINDOW_FORM} at position 4"


def _latency_with(**windows: str) -> dict[str, Any]:
    """The kit's latency anomaly monitor asset with its alert, trigger and recovery windows replaced."""
    data = json.loads(LATENCY.read_text())
    definition = data["definition"]
    definition["query"] = definition["query"].replace("alert_window='last_15m'",
                                                      f"alert_window='{windows.get('alert', 'last_15m')}'")
    definition["options"]["threshold_windows"] = {"trigger_window": windows.get("alert", "last_15m"),
                                                  "recovery_window": windows.get("recovery", "last_15m")}
    return data


@pytest.mark.parametrize("where, window", [("alert", "last_0m"), ("alert", "last_15x"), ("recovery", "last_0m"),
                                           ("recovery", "15m")])
def test_lint_and_sandbox_refuse_the_same_bad_window_the_same_way(tmp_path: Path, where: str, window: str) -> None:
    data = _latency_with(**{where: window})
    path = tmp_path / "monitor.json"
    path.write_text(json.dumps(data))
    _, problems = lint_assets([path])
    with pytest.raises(IntakeError) as refused:
        normalise_monitor(data["definition"])
    expected = f"bad window {window!r}: expected {WINDOW_FORM}"
    assert [p.rule for p in problems if expected in p.message] == ["anomaly-window"]
    assert expected in str(refused.value)
    assert f"{where}_window: {expected}" in str(refused.value)


def test_the_shipped_latency_monitor_windows_are_good() -> None:
    data = _latency_with()
    assert lint_assets([LATENCY])[1] == []
    assert normalise_monitor(data["definition"])["options"]["threshold_windows"]["recovery_window"] == "last_15m"
