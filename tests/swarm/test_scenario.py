"""Scenarios from Python and from YAML/JSON files; bad files get errors naming the file and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autonomic_lib.swarm import (ProviderSlowdown, PromptInjection, Regression, ScenarioError, get_scenario,
                                 load_scenario, scenario_from_dict, seed_demo)

FIXTURES = Path(__file__).parent / "fixtures"


def test_seed_demo_has_a_four_hour_baseline_and_the_seed_incidents() -> None:
    s = seed_demo()
    assert [p.name for p in s.phases] == ["baseline", "budget_breach", "latency_spike", "optimization_failure",
                                          "recovery"]
    assert s.phases[0].duration == 4 * 3600 and s.phases[0].history
    slow = s.phases[2].faults[0]
    assert isinstance(slow, ProviderSlowdown) and slow.spikes == 3 and slow.spike_duration == 240 and slow.gap == 300
    assert s.phases[4].duration == 20 * 60
    assert "3 seasons" in (seed_demo.__doc__ or "")


def test_yaml_file_loads_with_durations_and_faults() -> None:
    s = load_scenario(FIXTURES / "small.yaml")
    assert s.env == "test" and [a.agent_id for a in s.agents] == ["bot-a", "bot-b"]
    assert s.phases[0].duration == 600 and s.phases[1].duration == 1200
    kinds = [type(f) for f in s.phases[1].faults]
    assert kinds == [PromptInjection, ProviderSlowdown, Regression]
    assert s.phases[1].faults[1].spike_duration == 120  # type: ignore[union-attr]


def test_json_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"name": "j", "agents": ["a1"], "phases": [{"name": "p", "duration": 60, "rate": 1}]}))
    assert get_scenario(path).phases[0].rate == 1.0


BAD = [
    ({"agents": ["a1"], "phases": [{"name": "p", "duration": 60, "rate": 1}]}, "name", "is required"),
    ({"name": "x", "agents": ["a1"], "phases": [{"name": "p", "duration": "ten", "rate": 1}]},
     "phases[0].duration", "not a duration"),
    ({"name": "x", "agents": ["a1"], "phases": [{"name": "p", "duration": 60, "rate": 1,
                                                  "faults": [{"type": "regression", "agent": "nobody"}]}]},
     "phases[0].faults[0].agent", "not one of the scenario's agents"),
    ({"name": "x", "agents": ["a1"], "phases": [{"name": "p", "duration": 60, "rate": 1,
                                                  "faults": [{"type": "provider_slowdown", "spikes": "three"}]}]},
     "phases[0].faults[0].spikes", "must be an integer"),
    ({"name": "x", "agents": ["a1"], "phases": [{"name": "p", "duration": 60, "rate": 1,
                                                  "faults": [{"type": "meteor"}]}]},
     "phases[0].faults[0].type", "not one of prompt_injection"),
    ({"name": "x", "agents": ["a1"], "phases": [{"name": "p", "duration": 60, "rate": 1, "speed": 2}]},
     "phases[0].speed", "unknown field"),
    ({"name": "x", "agents": ["A B"], "phases": [{"name": "p", "duration": 60, "rate": 1}]},
     "agents[0].agent_id", "not a valid agent_id"),
    ({"name": "x", "agents": ["a1"], "phases": [{"name": "p", "duration": 60, "rate": -1}]},
     "phases[0].rate", "must be >"),
    ({"name": "x", "agents": ["a1"], "phases": []}, "phases", "non-empty list"),
]


@pytest.mark.parametrize("data, field, message", BAD, ids=[b[1] for b in BAD])
def test_bad_scenario_file_names_the_file_and_field(tmp_path: Path, data: dict, field: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ScenarioError, match=message) as info:
        load_scenario(path)
    assert info.value.field == field
    assert str(path) in str(info.value) and field in str(info.value)


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match="not valid YAML") as info:
        load_scenario(path)
    assert str(path) in str(info.value)


def test_unknown_scenario_lists_the_built_in_ones() -> None:
    with pytest.raises(ScenarioError, match="seed-demo"):
        get_scenario("nope")


def test_dict_without_a_file_still_names_the_field() -> None:
    with pytest.raises(ScenarioError, match=r"^budget_usd: must be >"):
        scenario_from_dict({"name": "x", "budget_usd": 0, "agents": ["a"],
                            "phases": [{"name": "p", "duration": 1, "rate": 1}]})
