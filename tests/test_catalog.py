"""The metric catalogue: the shipped files are well-formed, and bad ones are reported by file, row and column."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autonomic_lib.catalog import ASSETS_DIR, METADATA_COLUMNS, load_catalog
from autonomic_lib.errors import CatalogError
from autonomic_lib.units import UNITS

SEED_METRICS = ("autonomic.agent.cost", "autonomic.audit.verdict", "autonomic.optimization.failed",
                "autonomic.deployments.success", "autonomic.agent.latency.avg", "autonomic.budget.breach.amount")


def test_every_shipped_row_is_well_formed() -> None:
    catalog = load_catalog()
    text = (ASSETS_DIR / "metadata.csv").read_text().splitlines()
    assert len(catalog.metrics) == len(text) - 1  # every row became a metric: none was skipped
    for spec in catalog.metrics.values():
        assert spec.name.startswith("autonomic.") and spec.description and spec.short_name
        assert spec.type in ("gauge", "count") and spec.interval == 10
        assert spec.unit is None or spec.unit in UNITS


def test_catalogue_covers_the_seed_and_the_dashboard() -> None:
    metrics = load_catalog().metrics
    for name in SEED_METRICS:
        assert name in metrics
    assert metrics["autonomic.audit.verdict"].type == "count"  # pass rate = pass / (pass + fail) needs counts
    assert metrics["autonomic.agent.latency.95percentile"].unit == "second"
    for name in ("autonomic.component.latency.avg", "autonomic.agent.version", "autonomic.tokens.input",
                 "autonomic.tokens.output", "autonomic.optimization.attempts"):
        assert name in metrics


def test_tag_keys_are_bounded_and_attached_to_the_right_metrics() -> None:
    catalog = load_catalog()
    assert {"env", "service", "version", "agent_id", "role", "verdict", "phase"} <= set(catalog.tags)
    assert "verdict" in catalog.tag_keys_for("autonomic.audit.verdict")
    assert "verdict" not in catalog.tag_keys_for("autonomic.agent.cost")
    assert "role" in catalog.tag_keys_for("autonomic.component.latency.avg")
    assert "failure_reason" in catalog.tag_keys_for("autonomic.optimization.failed")
    assert all(t.max_values > 0 for t in catalog.tags.values())


@pytest.mark.parametrize("metric, tags, fragment", [
    ("autonomic.audit.verdict", ["verdict:maybe"], "value must be pass | fail"),
    ("autonomic.agent.cost", ["role:auditor"], "does not carry 'role'"),
    ("autonomic.agent.cost", ["user_id:42"], "not an allowed tag key"),
    ("autonomic.agent.cost", ["standalone"], "not an allowed tag key"),
    ("autonomic.agent.cots", [], "Did you mean autonomic.agent.cost"),
    ("autonomic.agent.cost", ["version:1.2"], "matching"),
])
def test_check_tags_names_the_offending_tag(metric: str, tags: list[str], fragment: str) -> None:
    with pytest.raises(CatalogError, match=fragment.replace("|", r"\|").replace(".", r"\.")):
        load_catalog().check_tags(metric, tags)


def test_allowed_tags_pass() -> None:
    load_catalog().check_tags("autonomic.audit.verdict", ["env:demo", "verdict:fail", "agent_id:chatbot-01",
                                                          "version:v2", "phase:baseline", "service:autonomic-auditor"])


def broken_copy(tmp_path: Path, file: str, old: str, new: str) -> Path:
    root = tmp_path / "assets"
    shutil.copytree(ASSETS_DIR, root, ignore=shutil.ignore_patterns("dashboards", "monitors", "workflows"))
    path = root / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return root


@pytest.mark.parametrize("file, old, new, fragment", [
    ("metadata.csv", "autonomic.agent.cost,gauge", "autonomic.agent.cost,histogramm", "column 'metric_type'"),
    ("metadata.csv", "autonomic.agent.cost,gauge,10,dollar", "autonomic.agent.cost,gauge,10,dollars",
     "did you mean dollar"),
    ("metadata.csv", "autonomic.agent.cost,", "9autonomic.agent.cost,", "column 'metric_name'"),
    ("metadata.csv", "autonomic.agent.cost,", "shop.cost,", "integration prefix"),
    ("metadata.csv", "autonomic.agent.messages,count,10,message,,", "autonomic.agent.cost,count,10,message,,",
     "appears twice"),
    ("metadata.csv", ",-1,autonomic_ai,message cost,", ",2,autonomic_ai,message cost,", "column 'orientation'"),
    ("metadata.csv", ",-1,autonomic_ai,message cost,", ",-1,other_app,message cost,", "column 'integration'"),
    ("metadata.csv", "metric_name,metric_type", "name,metric_type", "header must be exactly"),
    ("tags.csv", "pass|fail,2", "pass|fail,1", "lists 2 values but allows only 1"),
    ("tags.csv", "autonomic.audit.verdict,", "autonomic.nothing.*,", "matches no metric"),
    ("tags.csv", '"re:v[0-9]{1,3}"', '"re:v[0-9"', "invalid regular expression"),
])
def test_bad_catalogue_names_file_row_and_column(tmp_path: Path, file: str, old: str, new: str, fragment: str) -> None:
    root = broken_copy(tmp_path, file, old, new)
    with pytest.raises(CatalogError) as info:
        load_catalog(root)
    message = str(info.value)
    assert fragment in message and file in message


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    root = broken_copy(tmp_path, "metadata.csv", "autonomic.agent.cost,gauge,10,dollar,",
                       "autonomic.agent.cost,histo,10,euros,")
    with pytest.raises(CatalogError, match="2 problem"):
        load_catalog(root)


def test_metadata_header_is_the_integrations_core_one() -> None:
    header = (ASSETS_DIR / "metadata.csv").read_text().splitlines()[0]
    assert tuple(header.split(",")) == METADATA_COLUMNS
