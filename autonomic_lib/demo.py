"""`python -m autonomic_lib demo`: start the sandbox, run what exists of the demo, write reports/index.html.

Today the demo checks the foundation end to end: every catalogue metric is sent through the kit's
bulk path and read back through the official client's v1 and v2 queries, and the report says
whether anything was lost. The swarm, assets and notebooks replace this check as they land; the
command, its options and its output folder stay the same.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .backend import sandbox_settings
from .catalog import Catalog, load_catalog
from .client import make_api_client, validate_keys
from .series import Series, submit_series
from .settings import Settings

log = logging.getLogger("autonomic_lib")
CHECK_MINUTES = 30


@dataclass
class MetricCheck:
    """One catalogue metric sent and read back."""

    metric: str
    type: str
    sent_points: int
    sent_sum: float
    read_points: int
    read_sum: float

    @property
    def ok(self) -> bool:
        return self.sent_points == self.read_points and np.isclose(self.sent_sum, self.read_sum, rtol=1e-9, atol=1e-12)


def check_data(catalog: Catalog, seed: int, end: int) -> list[Series]:
    """Seeded points for every catalogue metric: one per 10 s over the last CHECK_MINUTES minutes."""
    rng = np.random.default_rng(seed)
    timestamps = np.arange(end - CHECK_MINUTES * 60, end, 10, dtype=np.int64)
    out = []
    for spec in catalog.metrics.values():
        values = rng.integers(0, 5, len(timestamps)).astype(float) if spec.type == "count" else rng.gamma(2.0, 0.5, len(timestamps))
        out.append(Series(spec.name, timestamps, values, tags=["env:kit-check", "service:autonomic-chatbot"],
                          type=spec.type if spec.type in ("count", "rate", "gauge") else "gauge",
                          interval=spec.interval, unit=spec.unit))
    return out


def round_trip(settings: Settings, catalog: Catalog, seed: int) -> tuple[list[MetricCheck], dict[str, float]]:
    """Send the check data and read every metric back; returns per-metric results and timings."""
    from datadog_api_client.v1.api.metrics_api import MetricsApi

    end = int(time.time()) // 60 * 60
    data = check_data(catalog, seed, end)
    checks, timings = [], {}
    with make_api_client(settings) as client:
        t0 = time.perf_counter()
        report = submit_series(client, data)
        timings["submit_s"] = time.perf_counter() - t0
        timings["points"] = report.points
        timings["requests"] = report.requests
        api = MetricsApi(client)
        t0 = time.perf_counter()
        for s in data:
            window = dict(_from=end - CHECK_MINUTES * 60 - 60, to=end)
            count = api.query_metrics(query=f"sum:{s.metric}{{env:kit-check}}.rollup(count, 3600)", **window)
            total = api.query_metrics(query=f"sum:{s.metric}{{env:kit-check}}.rollup(sum, 3600)", **window)
            checks.append(MetricCheck(
                s.metric, s.type, len(s.values), float(s.values.sum()),
                int(sum(p.value[1] for series in count.series for p in series.pointlist)),
                float(sum(p.value[1] for series in total.series for p in series.pointlist))))
        timings["query_s"] = time.perf_counter() - t0
    return checks, timings


def _bar_chart_png(checks: list[MetricCheck]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    y = np.arange(len(checks))
    ax.barh(y - 0.2, [c.sent_points for c in checks], height=0.4, label="sent", color="#632ca6")
    ax.barh(y + 0.2, [c.read_points for c in checks], height=0.4, label="read back", color="#3ec28f")
    ax.set_yticks(y, [c.metric for c in checks], fontsize=7)
    ax.set_xlabel("points")
    ax.set_title("Every catalogue metric: points sent vs points read back")
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def write_index(out_dir: Path, target: str, checks: list[MetricCheck], timings: dict[str, float]) -> Path:
    """A self-contained page (image embedded, no key) summarising the run."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lost = [c for c in checks if not c.ok]
    verdict = "nothing lost" if not lost else f"{len(lost)} metric(s) did not round-trip"
    rows = "\n".join(
        f"<tr><td>{html.escape(c.metric)}</td><td>{c.type}</td><td>{c.sent_points}</td><td>{c.read_points}</td>"
        f"<td>{c.sent_sum:.6g}</td><td>{c.read_sum:.6g}</td><td>{'✔' if c.ok else '✘'}</td></tr>" for c in checks)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>autonomic-kit report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 8px}}
.ok{{color:#1a7f37}}.bad{{color:#cf222e}}</style></head><body>
<h1>autonomic-kit report</h1>
<p>Backend: {html.escape(target)}. Generated {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}.</p>
<h2 id="summary">Foundation check: <span class="{'ok' if not lost else 'bad'}">{verdict}</span></h2>
<p>{int(timings['points'])} points for {len(checks)} catalogue metrics (synthetic check data tagged
<code>env:kit-check</code>, not swarm traffic) were sent in {int(timings['requests'])} request(s) in
{timings['submit_s']:.2f} s and read back with {2 * len(checks)} queries in {timings['query_s']:.2f} s.
The swarm simulation, the Datadog assets and the notebooks are not part of the kit yet; this page
grows into the full demo report as they land.</p>
<img alt="points sent vs read back" src="data:image/png;base64,{_bar_chart_png(checks)}">
<table><tr><th>metric</th><th>type</th><th>points sent</th><th>points read</th><th>sum sent</th><th>sum read</th><th></th></tr>
{rows}</table></body></html>"""
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def run_demo(out_dir: Path, scenario: str = "seed-demo", seed: int = 7) -> int:
    """Run the demo; 0 when every expectation held, 1 otherwise."""
    catalog = load_catalog()
    settings = Settings.from_env()
    if settings.api_key is not None and not settings.is_sandbox:
        validate_keys(settings)
        print(f"Keys valid for {settings.target}. The kit sends no data to a real org until the swarm "
              f"scenario ({scenario!r}) exists; running the check on the embedded sandbox instead.")
    with tempfile.TemporaryDirectory(prefix="autonomic-sandbox-") as workdir, sandbox_settings(Path(workdir)) as sbx:
        checks, timings = round_trip(sbx, catalog, seed)
        index = write_index(Path(out_dir), sbx.target, checks, timings)
    ok = all(c.ok for c in checks)
    print(f"{'OK' if ok else 'FAILED'}: {int(timings['points'])} points sent, "
          f"{sum(c.read_points for c in checks)} read back. Report: {index.resolve()}")
    return 0 if ok else 1
