"""Settings: sources and precedence, site and host routing, validation, and keys that never show."""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
from pathlib import Path

import pytest

from autonomic_lib.errors import ConfigError
from autonomic_lib.settings import SITES, Secret, Settings, read_key_file

# Written out from DATADOG.md 8.2 rather than derived, so a typo in SITES cannot hide: site -> (API, web app).
EXPECTED_SITES = {
    "datadoghq.com": ("https://api.datadoghq.com", "https://app.datadoghq.com"),
    "us3.datadoghq.com": ("https://api.us3.datadoghq.com", "https://us3.datadoghq.com"),
    "us5.datadoghq.com": ("https://api.us5.datadoghq.com", "https://us5.datadoghq.com"),
    "datadoghq.eu": ("https://api.datadoghq.eu", "https://app.datadoghq.eu"),
    "ap1.datadoghq.com": ("https://api.ap1.datadoghq.com", "https://ap1.datadoghq.com"),
    "ap2.datadoghq.com": ("https://api.ap2.datadoghq.com", "https://ap2.datadoghq.com"),
    "uk1.datadoghq.com": ("https://api.uk1.datadoghq.com", "https://uk1.datadoghq.com"),
    "ddog-gov.com": ("https://api.ddog-gov.com", "https://app.ddog-gov.com"),
    "us2.ddog-gov.com": ("https://api.us2.ddog-gov.com", "https://us2.ddog-gov.com"),
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No DD_* from the developer's shell, and no .env from the repository."""
    for var in [v for v in os.environ if v.startswith("DD_")]:
        monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def api_key() -> str:
    return secrets.token_hex(16)  # shaped like a Datadog API key: 32 hex


@pytest.fixture
def app_key() -> str:
    return secrets.token_hex(20)  # shaped like a Datadog application key: 40 hex


def write_env(path: Path, **values: str) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def assert_hidden(text: str, *keys: str) -> None:
    """No key appears, nor any 5-character piece of one (at most the last 4 may show)."""
    for key in keys:
        assert not any(key[i:i + 5] in text for i in range(len(key) - 4)), text


# --- sources and precedence ---------------------------------------------------------------------

def test_defaults_without_any_source() -> None:
    settings = Settings.from_env()
    assert settings == Settings()
    assert (settings.api_key, settings.app_key, settings.site, settings.host) == (None, None, "datadoghq.com", None)
    assert settings.api_url == "https://api.datadoghq.com"
    assert settings.target == "Datadog datadoghq.com"


def test_reads_os_environ(monkeypatch: pytest.MonkeyPatch, api_key: str, app_key: str) -> None:
    monkeypatch.setenv("DD_API_KEY", api_key)
    monkeypatch.setenv("DD_APP_KEY", app_key)
    monkeypatch.setenv("DD_SITE", "datadoghq.eu")
    settings = Settings.from_env()
    assert settings.api_key == Secret(api_key) and settings.app_key == Secret(app_key)
    assert settings.api_key.reveal() == api_key
    assert settings.site == "datadoghq.eu"


def test_dotenv_in_current_directory(tmp_path: Path, api_key: str) -> None:
    write_env(tmp_path / ".env", DD_API_KEY=api_key, DD_SITE="us5.datadoghq.com")
    settings = Settings.from_env()
    assert settings.api_key == Secret(api_key)
    assert settings.site == "us5.datadoghq.com"


def test_environment_wins_over_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                      api_key: str, app_key: str) -> None:
    file_key = secrets.token_hex(16)
    write_env(tmp_path / ".env", DD_API_KEY=file_key, DD_APP_KEY=app_key, DD_SITE="datadoghq.eu")
    monkeypatch.setenv("DD_API_KEY", api_key)
    settings = Settings.from_env()
    assert settings.api_key == Secret(api_key)  # environment
    assert settings.app_key == Secret(app_key)  # only in .env
    assert settings.site == "datadoghq.eu"


def test_empty_environment_value_means_unset(tmp_path: Path, api_key: str) -> None:
    write_env(tmp_path / ".env", DD_API_KEY=api_key)
    settings = Settings.from_env({"DD_API_KEY": "", "DD_APP_KEY": "  ", "DD_SITE": "", "DD_HOST": ""})
    assert settings.api_key == Secret(api_key)
    assert settings.app_key is None and settings.site == "datadoghq.com" and settings.host is None


def test_explicit_env_mapping_ignores_os_environ(monkeypatch: pytest.MonkeyPatch, api_key: str) -> None:
    monkeypatch.setenv("DD_API_KEY", secrets.token_hex(16))
    assert Settings.from_env({"DD_API_KEY": api_key}).api_key == Secret(api_key)
    assert Settings.from_env({}).api_key is None


def test_explicit_dotenv_path(tmp_path: Path, app_key: str) -> None:
    write_env(tmp_path / ".env", DD_SITE="datadoghq.eu")  # the default one is not read
    other = write_env(tmp_path / "demo.env", DD_APP_KEY=app_key, DD_SITE="ap1.datadoghq.com")
    settings = Settings.from_env({}, dotenv_path=other)
    assert settings.app_key == Secret(app_key) and settings.site == "ap1.datadoghq.com"


def test_missing_explicit_dotenv_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing.env"):
        Settings.from_env({}, dotenv_path=tmp_path / "missing.env")


def test_dotenv_does_not_touch_os_environ(tmp_path: Path, api_key: str) -> None:
    write_env(tmp_path / ".env", DD_API_KEY=api_key, DD_SITE="datadoghq.eu")
    Settings.from_env()
    assert "DD_API_KEY" not in os.environ and "DD_SITE" not in os.environ


def test_keys_are_stripped(tmp_path: Path, api_key: str, app_key: str) -> None:
    write_env(tmp_path / ".env", DD_APP_KEY=f"'  {app_key}  '")
    settings = Settings.from_env({"DD_API_KEY": f"  {api_key}\n"})
    assert settings.api_key.reveal() == api_key
    assert settings.app_key.reveal() == app_key


# --- sites and host ------------------------------------------------------------------------------

def test_sites_table_is_complete() -> None:
    assert {site: (urls.api_url, urls.app_url) for site, urls in SITES.items()} == EXPECTED_SITES


@pytest.mark.parametrize("site", EXPECTED_SITES)
def test_every_site_maps_to_its_urls(site: str) -> None:
    settings = Settings.from_env({"DD_SITE": site})
    assert (settings.api_url, settings.app_url) == EXPECTED_SITES[site]
    assert settings.target == f"Datadog {site}"
    assert not settings.is_sandbox


def test_site_is_case_and_space_insensitive() -> None:
    assert Settings.from_env({"DD_SITE": " DatadogHQ.EU "}).site == "datadoghq.eu"


def test_host_wins_over_site() -> None:
    settings = Settings.from_env({"DD_SITE": "datadoghq.eu", "DD_HOST": "http://127.0.0.1:8126/"})
    assert settings.host == "http://127.0.0.1:8126"  # trailing slash dropped: paths are appended to it
    assert settings.api_url == settings.app_url == "http://127.0.0.1:8126"
    assert settings.target == "sandbox http://127.0.0.1:8126"
    assert settings.is_sandbox


def test_host_pointing_at_a_datadog_api_is_labelled_datadog() -> None:
    settings = Settings(host="https://api.datadoghq.eu")
    assert settings.api_url == "https://api.datadoghq.eu"
    assert settings.app_url == "https://app.datadoghq.eu"  # links go to the web app, not the API host
    assert settings.target == "Datadog https://api.datadoghq.eu"


def test_unknown_site_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"DD_SITE": "datadoghq.con"})
    message = str(info.value)
    assert "DD_SITE" in message and "datadoghq.con" in message
    assert all(site in message for site in EXPECTED_SITES)


@pytest.mark.parametrize("host, problem", [
    ("127.0.0.1:8126", "http:// or https://"),
    ("ftp://127.0.0.1", "http:// or https://"),
    ("http://", "no host name"),
    ("http://127.0.0.1:8126/api/v1", "path"),
    ("http://127.0.0.1:8126?debug=1", "query"),
    ("http://127.0.0.1:8126#top", "fragment"),
    ("http://127.0.0.1:99999", "port"),
])
def test_bad_host_names_dd_host(host: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=f"DD_HOST .*{problem}"):
        Settings.from_env({"DD_HOST": host})


def test_host_with_credentials_is_refused_without_echoing_them() -> None:
    password = secrets.token_hex(8)
    with pytest.raises(ConfigError, match="DD_HOST must not contain credentials") as info:
        Settings.from_env({"DD_HOST": f"http://user:{password}@127.0.0.1:8126"})
    assert password not in str(info.value)


# --- keys: validation and masking ----------------------------------------------------------------

@pytest.mark.parametrize("var", ["DD_API_KEY", "DD_APP_KEY"])
@pytest.mark.parametrize("mangle", [
    lambda k: k[:10] + " " + k[10:],
    lambda k: k[:10] + "\t" + k[10:],
    lambda k: k + "\x00",
    lambda k: "\u201c" + k + "\u201d",  # curly quotes from a copy-paste
])
def test_malformed_key_names_the_variable_not_the_value(var: str, mangle, api_key: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({var: mangle(api_key)})
    assert var in str(info.value)
    assert_hidden(str(info.value), api_key)


def test_repr_and_str_never_show_a_key(api_key: str, app_key: str) -> None:
    settings = Settings.from_env({"DD_API_KEY": api_key, "DD_APP_KEY": app_key})
    for text in (repr(settings), str(settings), f"{settings}", repr(settings.api_key), str(settings.app_key),
                 f"{settings.api_key}", repr(dataclasses.asdict(settings))):
        assert_hidden(text, api_key, app_key)
    assert repr(settings.api_key) == f"Secret('****{api_key[-4:]}')"


def test_short_secret_is_fully_masked() -> None:
    assert repr(Secret("abc123")) == str(Secret("abc123")) == "Secret('****')"


def test_secret_equality_and_hash(api_key: str) -> None:
    assert Secret(api_key) == Secret(api_key) and hash(Secret(api_key)) == hash(Secret(api_key))
    assert Secret(api_key) != Secret(secrets.token_hex(16))
    assert Secret(api_key) != api_key  # a Secret is not a str, so it cannot leak through str APIs
    assert not isinstance(Secret(api_key), str)
    with pytest.raises(ValueError):
        Secret("")


def test_plain_strings_are_wrapped(api_key: str) -> None:
    settings = Settings(api_key=api_key)  # type: ignore[arg-type]
    assert isinstance(settings.api_key, Secret)
    assert_hidden(repr(settings), api_key)


def test_logging_during_from_env_shows_no_key(caplog: pytest.LogCaptureFixture, tmp_path: Path,
                                              api_key: str, app_key: str) -> None:
    write_env(tmp_path / ".env", DD_APP_KEY=app_key)
    with caplog.at_level(logging.DEBUG, logger="autonomic_lib"):
        Settings.from_env({"DD_API_KEY": api_key})
    assert "DD_API_KEY read from environment" in caplog.text
    assert_hidden(caplog.text, api_key, app_key)


def test_settings_are_frozen_and_with_keys_copies(api_key: str, app_key: str) -> None:
    settings = Settings(host="http://127.0.0.1:8126")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.site = "datadoghq.eu"  # type: ignore[misc]
    keyed = settings.with_keys(api_key, Secret(app_key))
    assert keyed.host == settings.host and settings.api_key is None
    assert keyed.api_key == Secret(api_key) and keyed.app_key == Secret(app_key)


# --- require ------------------------------------------------------------------------------------

def test_require_names_the_missing_key_and_target(api_key: str) -> None:
    settings = Settings.from_env({"DD_API_KEY": api_key, "DD_SITE": "datadoghq.eu"})
    assert settings.require("DD_API_KEY") is settings
    with pytest.raises(ConfigError, match=r"^DD_APP_KEY is not set .* for Datadog datadoghq\.eu$") as info:
        settings.require("DD_API_KEY", "DD_APP_KEY")
    assert_hidden(str(info.value), api_key)


def test_require_without_names_wants_both() -> None:
    expected = "DD_API_KEY and DD_APP_KEY are not set .* for sandbox http://127.0.0.1:8126"
    with pytest.raises(ConfigError, match=expected):
        Settings(host="http://127.0.0.1:8126").require()


def test_require_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="DD_SITE"):
        Settings().require("DD_SITE")  # type: ignore[arg-type]


# --- key files --------------------------------------------------------------------------------------
def write_key_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_read_key_file_returns_both_keys_as_secrets(tmp_path: Path, api_key: str, app_key: str) -> None:
    path = write_key_file(tmp_path / "keys", f"# comment\nDD_API_KEY={api_key}\nexport DD_APP_KEY='{app_key}'\n")
    assert read_key_file(path) == (Secret(api_key), Secret(app_key))
    assert read_key_file(write_key_file(tmp_path / "strict", f"DD_API_KEY={api_key}\nDD_APP_KEY={app_key}\n",
                                        0o400))[0] == Secret(api_key)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o620, 0o602, 0o666], ids=oct)
def test_read_key_file_refuses_a_file_others_can_reach(tmp_path: Path, api_key: str, app_key: str,
                                                       mode: int) -> None:
    path = write_key_file(tmp_path / "keys", f"DD_API_KEY={api_key}\nDD_APP_KEY={app_key}\n", mode)
    with pytest.raises(ConfigError) as info:
        read_key_file(path)
    message = str(info.value)
    assert f"key file {path}" in message and f"mode {mode:04o}" in message and f"chmod 600 {path}" in message
    assert api_key not in message and app_key not in message


def test_read_key_file_names_a_missing_key_or_file(tmp_path: Path, api_key: str) -> None:
    path = write_key_file(tmp_path / "keys", f"DD_API_KEY={api_key}\n")
    with pytest.raises(ConfigError, match=f"key file {path} has no DD_APP_KEY"):
        read_key_file(path)
    with pytest.raises(ConfigError, match=f"key file {tmp_path / 'absent'}: No such file"):
        read_key_file(tmp_path / "absent")
    with pytest.raises(ConfigError, match="not a regular file"):
        read_key_file(tmp_path)


def test_read_key_file_names_the_variable_of_a_mangled_key_not_its_value(tmp_path: Path, app_key: str) -> None:
    path = write_key_file(tmp_path / "keys", f'DD_API_KEY="abc\tdef"\nDD_APP_KEY={app_key}\n')
    with pytest.raises(ConfigError) as info:
        read_key_file(path)
    assert f"key file {path}: DD_API_KEY contains whitespace" in str(info.value) and "abc" not in str(info.value)
