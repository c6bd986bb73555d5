"""Where the kit talks to (sandbox or Datadog site) and with which keys, read once and validated early."""

from __future__ import annotations

import dataclasses
import hmac
import io
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal, Mapping, NamedTuple
from urllib.parse import urlsplit

from dotenv import dotenv_values

from .errors import ConfigError

log = logging.getLogger("autonomic_lib")

KeyVar = Literal["DD_API_KEY", "DD_APP_KEY"]
ENV_VARS = ("DD_API_KEY", "DD_APP_KEY", "DD_SITE", "DD_HOST")
DEFAULT_SITE = "datadoghq.com"


class SiteUrls(NamedTuple):
    """The two base URLs of a Datadog site: its API and its web app (for links)."""

    api_url: str
    app_url: str


def _site(site: str, app_host: str) -> tuple[str, SiteUrls]:
    return site, SiteUrls(f"https://api.{site}", f"https://{app_host}")


# DATADOG.md 8.2. The API host is always api.<site>; the web app is app.<site> only on the oldest sites.
SITES: Mapping[str, SiteUrls] = MappingProxyType(dict([
    _site("datadoghq.com", "app.datadoghq.com"),
    _site("us3.datadoghq.com", "us3.datadoghq.com"),
    _site("us5.datadoghq.com", "us5.datadoghq.com"),
    _site("datadoghq.eu", "app.datadoghq.eu"),
    _site("ap1.datadoghq.com", "ap1.datadoghq.com"),
    _site("ap2.datadoghq.com", "ap2.datadoghq.com"),
    _site("uk1.datadoghq.com", "uk1.datadoghq.com"),
    _site("ddog-gov.com", "app.ddog-gov.com"),
    _site("us2.ddog-gov.com", "us2.ddog-gov.com"),
]))
_API_HOSTS = {urlsplit(urls.api_url).hostname: site for site, urls in SITES.items()}


class Secret:
    """A key that shows at most its last 4 characters in repr, str, logs and tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError("Secret needs a non-empty string")
        self._value = value

    def reveal(self) -> str:
        """The clear value, for the one place that sends it (the API client)."""
        return self._value

    def __repr__(self) -> str:
        # Datadog's own UI identifies keys by their last 4; shorter keys stay fully masked.
        tail = self._value[-4:] if len(self._value) >= 16 else ""
        return f"Secret('****{tail}')"

    def __str__(self) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))


def _as_secret(value: Secret | str | None, var: KeyVar) -> Secret | None:
    """Strip and check a key; a str is wrapped so it can never reach a repr unmasked."""
    if isinstance(value, Secret):
        value = value.reveal()
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not all(c.isascii() and c.isprintable() and not c.isspace() for c in value):
        # Name the variable only: the value is the secret, even when it is mangled.
        raise ConfigError(f"{var} contains whitespace or a non-printable or non-ASCII character; "
                          "copy the key again from Datadog (Organization Settings > API/Application Keys)")
    return Secret(value)


def read_key_file(path: Path) -> tuple[Secret, Secret]:
    """DD_API_KEY and DD_APP_KEY from a file only its owner may read (`.env` syntax: one `NAME=value` a line).

    For a process that must be given keys without putting them in its argv, which every local user can read
    (`ps`, /proc/<pid>/cmdline). The mode is checked on the opened file, so it cannot change in between.

    Raises:
        ConfigError: the file is missing, not a regular file, readable or writable by group or others (names its
            mode and the chmod that fixes it), or lacks a key; the message names the file, never a value.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not hang us
    except OSError as exc:
        raise ConfigError(f"key file {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"key file {path} is not a regular file")
        if st.st_mode & 0o077:
            raise ConfigError(f"key file {path} is accessible to other users (mode {stat.S_IMODE(st.st_mode):04o}); "
                              f"run `chmod 600 {path}` (or stricter) first")
        with os.fdopen(os.dup(fd), encoding="utf-8", errors="replace") as handle:
            values = dotenv_values(stream=io.StringIO(handle.read()))
    finally:
        os.close(fd)
    keys: list[Secret] = []
    names: tuple[KeyVar, ...] = ("DD_API_KEY", "DD_APP_KEY")
    for var in names:
        try:
            secret = _as_secret(values.get(var), var)
        except ConfigError as exc:
            raise ConfigError(f"key file {path}: {exc}") from None
        if secret is None:
            raise ConfigError(f"key file {path} has no {var}=... line; it must hold DD_API_KEY and DD_APP_KEY")
        keys.append(secret)
    return keys[0], keys[1]


def _normalize_site(site: str) -> str:
    site = site.strip().lower()
    if site not in SITES:
        raise ConfigError(f"DD_SITE={site!r} is not a Datadog site; use one of {', '.join(SITES)} "
                          "(or DD_HOST for a sandbox)")
    return site


def _host_problem(host: str) -> str | None:
    """What is wrong with a DD_HOST value, worded without echoing it (it might carry credentials)."""
    parts = urlsplit(host)
    try:
        parts.port  # noqa: B018 - urlsplit parses lazily; this raises on a malformed port
    except ValueError:
        return "has an invalid port"
    if parts.scheme.lower() not in ("http", "https"):
        return "must start with http:// or https://"
    if not parts.hostname:
        return "has no host name"
    if "@" in parts.netloc:
        return "must not contain credentials"
    if parts.path not in ("", "/"):
        return f"must not have a path (got {parts.path!r})"
    if parts.query or parts.fragment:
        return "must not have a query or fragment"
    return None


def _normalize_host(host: str) -> str:
    """Return `scheme://host[:port]`, or raise ConfigError naming DD_HOST."""
    host = host.strip()
    problem = _host_problem(host)
    if problem:
        raise ConfigError(f"DD_HOST {problem}; expected a base URL such as http://127.0.0.1:8126")
    parts = urlsplit(host)
    return f"{parts.scheme.lower()}://{parts.netloc}"


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Keys and target of the kit. `host` (DD_HOST) wins over `site`, as in Datadog's Terraform provider."""

    api_key: Secret | None = None
    app_key: Secret | None = None
    site: str = DEFAULT_SITE
    host: str | None = None
    dogstatsd_port: int | None = None  # a sandbox's DogStatsD (UDP on the host's address); None: none known

    def __post_init__(self) -> None:
        # Validate here rather than in from_env so hand-built Settings (the sandbox's) get the same checks.
        object.__setattr__(self, "api_key", _as_secret(self.api_key, "DD_API_KEY"))
        object.__setattr__(self, "app_key", _as_secret(self.app_key, "DD_APP_KEY"))
        object.__setattr__(self, "site", _normalize_site(self.site))
        if self.host is not None:
            object.__setattr__(self, "host", _normalize_host(self.host) if self.host.strip() else None)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, dotenv_path: Path | None = None) -> Settings:
        """Read DD_API_KEY, DD_APP_KEY, DD_SITE and DD_HOST; the environment wins over the .env file.

        Args:
            env: Variables to read instead of `os.environ`.
            dotenv_path: A .env file to fall back to; default `./.env` when it exists. `os.environ` is
                never modified.

        Raises:
            ConfigError: A variable is malformed, or `dotenv_path` does not exist.
        """
        env = os.environ if env is None else env
        if dotenv_path is not None and not Path(dotenv_path).is_file():
            raise ConfigError(f"dotenv file {dotenv_path} does not exist")
        path = Path(dotenv_path) if dotenv_path is not None else Path.cwd() / ".env"
        from_file = dotenv_values(path) if path.is_file() else {}
        values: dict[str, str] = {}
        for var in ENV_VARS:
            # Empty means unset, so an exported-but-empty variable does not hide the .env value.
            for source, value in (("environment", env.get(var)), (str(path), from_file.get(var))):
                if value and value.strip():
                    values[var] = value
                    log.debug("%s read from %s", var, source)
                    break
        return cls(api_key=values.get("DD_API_KEY"), app_key=values.get("DD_APP_KEY"),  # type: ignore[arg-type]
                   site=values.get("DD_SITE", DEFAULT_SITE), host=values.get("DD_HOST"))

    def with_keys(self, api_key: Secret | str | None, app_key: Secret | str | None) -> Settings:
        """A copy with other keys, e.g. the ones a sandbox generated."""
        return dataclasses.replace(self, api_key=api_key, app_key=app_key)  # type: ignore[arg-type]

    @property
    def api_url(self) -> str:
        """Base URL of the API: the explicit host, else https://api.<site>."""
        return self.host or SITES[self.site].api_url

    @property
    def is_sandbox(self) -> bool:
        """Whether requests go to an explicit host that is not a Datadog API host."""
        return self.host is not None and urlsplit(self.host).hostname not in _API_HOSTS

    @property
    def app_url(self) -> str:
        """Base URL for links to dashboards and monitors: the sandbox, else the site's web app."""
        if self.host is None:
            return SITES[self.site].app_url
        if self.is_sandbox:
            return self.host
        return SITES[_API_HOSTS[urlsplit(self.host).hostname]].app_url

    @property
    def target(self) -> str:
        """A short label for messages, e.g. "sandbox http://127.0.0.1:8126" or "Datadog datadoghq.eu"."""
        if self.host is None:
            return f"Datadog {self.site}"
        return f"{'sandbox' if self.is_sandbox else 'Datadog'} {self.host}"

    def require(self, *names: KeyVar) -> Settings:
        """Check that keys are set (both when no name is given) and return self for chaining.

        Raises:
            ConfigError: Names the missing variables and the target, never a key.
        """
        keys = {"DD_API_KEY": self.api_key, "DD_APP_KEY": self.app_key}
        unknown = set(names) - keys.keys()
        if unknown:
            raise ValueError(f"unknown key variable(s): {', '.join(sorted(unknown))}")
        missing = [name for name in names or keys if keys[name] is None]
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            raise ConfigError(f"{' and '.join(missing)} {verb} not set (environment or .env) for {self.target}")
        return self
