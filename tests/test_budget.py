"""The per-message budget has one source: the budget-breach monitor's threshold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autonomic_lib.budget import BUDGET_MONITOR, message_budget
from autonomic_lib.errors import CatalogError
from autonomic_lib.swarm import seed_demo
from autonomic_lib.telemetry import MemorySink, Recorder


def test_budget_is_the_monitors_critical_threshold_and_every_default_follows_it() -> None:
    monitor = json.loads(BUDGET_MONITOR.read_text(encoding="utf-8"))
    assert message_budget() == monitor["definition"]["options"]["thresholds"]["critical"]
    assert monitor["definition"]["query"].endswith(f">= {message_budget():g}")
    assert seed_demo().budget_usd == message_budget()
    assert Recorder(MemorySink(), env="test").budget_usd == message_budget()


NO_THRESHOLD = {"definition": {"options": {}}}
ZERO_THRESHOLD = {"definition": {"options": {"thresholds": {"critical": 0}}}}


@pytest.mark.parametrize("body", [NO_THRESHOLD, ZERO_THRESHOLD])
def test_a_monitor_without_a_usable_threshold_is_refused_naming_the_field(tmp_path: Path, body: dict) -> None:
    path = tmp_path / "budget_breach.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    with pytest.raises(CatalogError, match=r"budget_breach\.json: definition\.options\.thresholds\.critical"):
        message_budget(path)
