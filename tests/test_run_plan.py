"""The hand-off between notebooks on disk: the ledger is JSON, and an older kit's pickle is refused, never loaded."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from autonomic_lib.errors import ConfigError
from autonomic_lib.run_plan import load_ledger, save_ledger
from autonomic_lib.telemetry import MemorySink
from autonomic_lib.traffic import run_scenario


class _Boom:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, ("raise SystemExit('a pickle ran code')",))


def test_an_older_kits_pickled_ledger_is_refused_without_being_loaded(tmp_path: Path) -> None:
    (tmp_path / "ledger.pkl").write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(ConfigError, match="older kit.*never loads"):
        load_ledger(tmp_path)


def test_a_saved_ledger_is_json_and_replaces_an_old_pickle(tmp_path: Path) -> None:
    (tmp_path / "ledger.pkl").write_bytes(b"old")
    ledger = run_scenario("seed-demo", 3, sink=MemorySink())
    path = save_ledger(tmp_path, ledger)
    assert path.name == "ledger.json" and path.read_bytes().startswith(b"{") and not (tmp_path / "ledger.pkl").exists()
    assert load_ledger(tmp_path).digest() == ledger.digest()


def test_a_damaged_ledger_is_named_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "ledger.json").write_text('{"format": "something else"}')
    with pytest.raises(ConfigError, match="ledger.json.*run 02_traffic again"):
        load_ledger(tmp_path)
