"""The read-only pages through HTTP against a real sandbox holding a small run: each opens with its token and shows
its resource; without a valid token it answers exactly as an unknown id; the kit's own links open them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import urllib3

from autonomic_lib.assets.sync import Backend
from autonomic_lib.client import make_api_client
from autonomic_lib.links import page_token, page_url
from autonomic_lib.notebook import KEY_PATTERN
from autonomic_lib.sandbox.server import SandboxServer
from autonomic_lib.settings import Settings
from tests.sandbox.pages.seed import HOSTILE, Seeded, page_urls, seeded_sandbox

pytestmark = pytest.mark.api


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxServer, Seeded]]:
    with seeded_sandbox(Path(tmp_path_factory.mktemp("pages"))) as pair:
        yield pair


def get(url: str) -> urllib3.BaseHTTPResponse:
    return urllib3.request("GET", url, retries=False, redirect=False)


def without_images(text: str) -> str:
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)


def test_each_page_opens_with_its_token_and_shows_what_it_is_about(seeded: tuple[SandboxServer, Seeded]) -> None:
    server, run = seeded
    urls = page_urls(server, run)
    expected = {
        "anomaly monitor": ["Latency anomaly", "anomalies(avg:pages.latency{env:demo}", 'id="groups"',
                            'id="history"', "<img src=\"data:image/png;base64,", "alt=\"Expected band of"],
        "grouped monitor": ["Agent stuck", "agent_id:a1", "Alert", 'id="history"'],
        "dashboard": [run.dashboard_title, "1. Latency", "alt=\"Latency (s) (timeseries widget)\"",
                      "alt=\"Verdicts (timeseries widget)\"", "alt=\"Failures by agent (toplist widget)\"",
                      'class="value">9.0<', 'id="not-drawn"', "$env = env:demo"],
        "workflow": [run.workflow_name, "published", "monitorTrigger", "10 per 3600s", 'id="runs"', "Succeeded",
                     "Failed", "createCase needs project_id", run.case_key],
        "case": [run.case_key, "Agent a1 is stuck", "P2", "Open", 'id="attributes"', "monitor_id",
                 'id="timeline"', "Looking into it."],
    }
    for name, url in urls.items():
        response = get(url)
        text = response.data.decode()
        assert response.status == 200, (name, text[:500])
        assert response.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert response.headers["referrer-policy"] == "no-referrer" and response.headers["cache-control"] == "no-store"
        for fragment in expected[name]:
            assert fragment in text, (name, fragment)
        assert f"at {server.url}" in text and "env demo, phases baseline" in text, name  # the header
        assert HOSTILE not in text  # stored text is shown as text
        assert server.config.api_key not in text and server.config.app_key not in text
        assert KEY_PATTERN.search(without_images(text)) is None, name


def test_stored_markup_is_escaped(seeded: tuple[SandboxServer, Seeded]) -> None:
    server, run = seeded
    text = get(page_urls(server, run)["case"]).data.decode()
    assert "Review the agent&#39;s prompt. &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in text


def test_without_a_valid_token_a_page_answers_as_an_unknown_id(seeded: tuple[SandboxServer, Seeded]) -> None:
    server, run = seeded
    key = server.config.api_key
    unknown = {"anomaly monitor": ("monitor", 99999), "dashboard": ("dashboard", "zzz-zzz-zzz"),
               "workflow": ("workflow", "00000000-0000-0000-0000-000000000000"), "case": ("case", "NOPE-1")}
    answers = set()
    for name, url in page_urls(server, run).items():
        bare = url.split("?")[0]
        other = page_token(key, "/monitors/0")
        for attempt in (bare, f"{bare}?token=", f"{bare}?token={other}", f"{bare}?token={other[:-1]}x"):
            response = get(attempt)
            assert response.status == 404, (name, attempt)
            answers.add(response.data)
        if name in unknown:  # a valid token for an id that does not exist
            kind, ident = unknown[name]
            response = get(page_url(server.url, kind, ident, api_key=key))  # type: ignore[arg-type]
            assert response.status == 404
            answers.add(response.data)
    assert len(answers) == 1  # one answer for all: nothing tells which ids exist
    assert b"token" in answers.pop()


def test_a_token_opens_only_its_own_page(seeded: tuple[SandboxServer, Seeded]) -> None:
    server, run = seeded
    urls = page_urls(server, run)
    token = parse_qs(urlsplit(urls["grouped monitor"]).query)["token"][0]
    assert get(f"{server.url}/monitors/{run.anomaly_id}?token={token}").status == 404
    assert get(f"{server.url}/monitors/{run.grouped_id}?token={token}").status == 200
    # the dashboard's token covers its id, with or without the slug the API's `url` adds
    dashboard_token = parse_qs(urlsplit(urls["dashboard"]).query)["token"][0]
    assert get(f"{server.url}/dashboard/{run.dashboard_id}?token={dashboard_token}").status == 200
    # a Case opens by key, and by id with the id's own token
    assert get(page_url(server.url, "case", run.case_id, api_key=server.config.api_key)).status == 200


def test_the_kit_links_to_its_assets_open_their_pages(seeded: tuple[SandboxServer, Seeded]) -> None:
    """assets/sync.py writes the links of 01's asset table: through the sandbox they open, with their token."""
    server, run = seeded
    settings = Settings(api_key=server.config.api_key, app_key=server.config.app_key, host=server.url)
    with make_api_client(settings) as client:
        backend = Backend(client, settings)
        dashboard = backend.dashboards.get_dashboard(run.dashboard_id).to_dict()
        links = [backend.url("monitor", str(run.grouped_id)), backend.url("workflow", run.workflow_id),
                 backend.url("dashboard", run.dashboard_id, dashboard)]
    assert links[2].startswith(server.url + run.dashboard_url + "?token=")
    for link in links:
        assert get(link).status == 200, link


def test_the_group_parameter_shows_one_group_and_hours_the_span(seeded: tuple[SandboxServer, Seeded]) -> None:
    server, run = seeded
    base = page_urls(server, run)
    one = get(page_url(server.url, "monitor", run.grouped_id, api_key=server.config.api_key,
                       group="agent_id:a1")).data.decode()
    assert "History of agent_id:a1" in one and ">all groups</a>" in one
    none = get(page_url(server.url, "monitor", run.grouped_id, api_key=server.config.api_key,
                        group="agent_id:zz")).data.decode()
    assert "No transition recorded." in none
    short = get(base["dashboard"] + "&hours=1").data.decode()
    long = get(base["dashboard"] + "&hours=nonsense").data.decode()
    span = re.compile(r"Drawn now from the sandbox's data, (.+?) to (.+?) UTC")
    assert span.search(short) and span.search(long)
    assert span.search(short).group(1) > span.search(long).group(1)  # type: ignore[union-attr]


def test_links_inside_a_page_open_too(seeded: tuple[SandboxServer, Seeded]) -> None:
    """The workflow page links its runs to the monitor group and the Case; the Case links back to its monitor."""
    server, run = seeded
    urls = page_urls(server, run)
    for name in ("workflow", "case", "grouped monitor"):
        hrefs = re.findall(r'href="([^"]+)"', get(urls[name]).data.decode())
        assert hrefs, name
        for href in hrefs:
            assert get(server.url + href.replace("&amp;", "&")).status == 200, (name, href)


def test_pages_are_get_only_and_need_no_key(seeded: tuple[SandboxServer, Seeded]) -> None:
    server, run = seeded
    url = page_urls(server, run)["workflow"]
    assert urllib3.request("POST", url, retries=False).status == 405
