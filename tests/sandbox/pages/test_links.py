"""links.py: page paths and tokens the client writes and the sandbox checks (no server needed)."""

from __future__ import annotations

from autonomic_lib.links import LINKS_CAPTION, page_path, page_token, page_url, token_ok
from autonomic_lib.notebook import KEY_PATTERN, scrub

KEY, OTHER_KEY = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"


def test_paths_follow_datadogs_web_app_and_quote_the_id() -> None:
    assert page_path("monitor", 12) == "/monitors/12"
    assert page_path("dashboard", "abc-def-ghi") == "/dashboard/abc-def-ghi"
    assert page_path("workflow", "u-1") == "/workflow/u-1"
    assert page_path("case", "AUTO-3") == "/cases/AUTO-3"
    assert page_path("case", "a/b?c") == "/cases/a%2Fb%3Fc"


def test_a_token_is_stable_per_key_and_path_and_never_shaped_like_a_key() -> None:
    token = page_token(KEY, "/monitors/12")
    assert token == page_token(KEY, "/monitors/12") and len(token) == 24
    assert token != page_token(KEY, "/monitors/13") and token != page_token(OTHER_KEY, "/monitors/12")
    assert KEY not in token and KEY_PATTERN.search(token) is None
    assert token_ok(KEY, "/monitors/12", token)
    assert not token_ok(KEY, "/monitors/12", "") and not token_ok(OTHER_KEY, "/monitors/12", token)


def test_a_link_survives_the_reports_key_scrubbing() -> None:
    url = page_url("http://127.0.0.1:8126", "monitor", 12, api_key=KEY, group="agent_id:a1")
    assert scrub(url, []) == url


def test_links_carry_a_token_only_with_a_key() -> None:
    datadog = page_url("https://app.datadoghq.com/", "monitor", 12, api_key=None)
    assert datadog == "https://app.datadoghq.com/monitors/12"
    url = page_url("http://127.0.0.1:1", "dashboard", "abc-def-ghi", api_key=KEY,
                   shown_path="/dashboard/abc-def-ghi/ops")
    assert url == "http://127.0.0.1:1/dashboard/abc-def-ghi/ops?token=" + page_token(KEY, "/dashboard/abc-def-ghi")
    assert page_url("", "monitor", 3, api_key=KEY, group="*").startswith("/monitors/3?group=%2A&token=")


def test_the_caption_names_the_sandbox_and_what_to_do() -> None:
    caption = LINKS_CAPTION.format(url="http://127.0.0.1:8126")
    assert "http://127.0.0.1:8126" in caption and "only while" in caption
    assert "python -m autonomic_lib sandbox" in caption
