"""seed-demo against a real sandbox: the ledger and the query-back agree exactly, metrics, logs and events."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest

from autonomic_lib.cli import main
from autonomic_lib.client import make_api_client
from autonomic_lib.sandbox.server import SandboxServer
from autonomic_lib.settings import Settings
from autonomic_lib.telemetry import Ledger
from autonomic_lib.swarm import seed_demo
from autonomic_lib.reconciliation import reconcile
from autonomic_lib.traffic import run_scenario

from ..conftest import start_sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    server = start_sandbox(tmp_path_factory.mktemp("swarm"), late_data=("autonomic.*",))
    yield server
    server.stop()


def _settings(server: SandboxServer) -> Settings:
    return Settings(api_key=server.config.api_key, app_key=server.config.app_key, host=server.url)


@pytest.fixture(scope="module")
def sent(sandbox: SandboxServer) -> Ledger:
    """seed-demo sent once to the module's sandbox; the tests below reconcile it, as it is or as a mutated copy."""
    with make_api_client(_settings(sandbox)) as client:
        return run_scenario("seed-demo", 7, api_client=client)


@pytest.mark.slow
def test_seed_demo_ledger_equals_query_back(sandbox: SandboxServer, sent: Ledger) -> None:
    ledger = sent
    with make_api_client(_settings(sandbox)) as client:
        result = reconcile(ledger, client)
    table = result.table
    assert result.ok, table[~table["match"]].to_string()
    assert set(table["kind"]) == {"metric", "logs", "events", "llm-obs"}
    llm_obs = table[table["kind"] == "llm-obs"].set_index("name")["read"]
    assert llm_obs.to_dict() == {"spans": ledger.traces["spans"], "evaluations": ledger.traces["evaluations"]}
    assert table.loc[table["kind"] == "metric", "sent"].sum() == ledger.points
    assert table.loc[table["kind"] == "logs", "read"].sum() == ledger.log_count
    assert len(table[table["kind"] == "metric"]) == len(ledger.series)


def test_reconcile_notices_a_point_and_a_log_that_are_not_there(sandbox: SandboxServer, sent: Ledger) -> None:
    ledger = Ledger.from_json(sent.to_json())  # a copy (exact: the round trip test below): `sent` stays as sent
    with make_api_client(_settings(sandbox)) as client:
        key = next(k for k in ledger.series if k[0] == "autonomic.agent.version")
        ledger.series[key].values[0] = ledger.series[key].values[0] + 1  # the ledger claims something else was sent
        phase, service, status = log_group = sorted(ledger.logs)[0]
        ledger.logs[log_group] += 1  # and one log more than was sent in that group
        result = reconcile(ledger, client, events=False)
    assert not result.ok
    wrong = result.table[~result.table["match"]]
    assert wrong["name"].tolist() == ["autonomic.agent.version", service]
    assert wrong["tags"].iloc[1] == f"phase:{phase},status:{status}"
    assert wrong["sent"].iloc[1] == wrong["read"].iloc[1] + 1


def test_without_points_counts_and_sums_are_compared_per_series(sandbox: SandboxServer) -> None:
    """The long runs' reconciliation (keep_points=False): each series' point count and value sum, read in one
    scalar call per metric; a count or a sum the ledger got wrong is found in its row."""
    with make_api_client(_settings(sandbox)) as client:
        ledger = run_scenario(replace(seed_demo(), env="demo-totals"), 7, api_client=client, keep_points=False)
        assert reconcile(ledger, client, logs=False, events=False, traces=False).ok
        counted, summed = sorted(k for k in ledger.series if k[0] == "autonomic.agent.messages")[:2]
        ledger.series[counted].points += 1
        ledger.series[summed].total *= 1 + 1e-6
        result = reconcile(ledger, client, logs=False, events=False, traces=False)
    table = result.table
    assert not result.ok and len(table) == len(ledger.series)
    wrong = table[~table["match"]]
    assert wrong["tags"].tolist() == [",".join(counted[1]), ",".join(summed[1])]
    assert (wrong["sent"] - wrong["read"]).tolist() == [1, 0]


@pytest.mark.slow
def test_traffic_command_prints_the_phase_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["traffic", "--scenario", "seed-demo", "--seed", "7", "--data-dir", str(tmp_path / "sb"), "--reconcile"])
    out = capsys.readouterr().out
    assert code == 0, out
    for needle in ("budget_breach", "optimization_failures", "user_latency_p95", "points", "everything agrees"):
        assert needle in out


def test_a_ledger_round_trips_through_json_exactly() -> None:
    """The ledger 02 leaves for 03 is JSON (it was a pickle: loading a state folder could run code)."""
    from autonomic_lib.telemetry import Ledger, MemorySink
    from autonomic_lib.traffic import run_scenario

    ledger = run_scenario("seed-demo", 7, sink=MemorySink())
    again = Ledger.from_json(ledger.to_json())
    assert again.digest() == ledger.digest() and again.points == ledger.points
    assert again.summary().equals(ledger.summary())
    key = next(iter(ledger.series))
    assert all((a == b).all() for a, b in zip(again.points_of(key), ledger.points_of(key)))
    assert again.cardinality().equals(ledger.cardinality())
