"""The sandbox's keys: made fresh, and shown masked. Apart from the server so that checking or making keys (the CLI
refusing a malformed one, a client generating a pair) does not import the whole sandbox app."""

from __future__ import annotations

import secrets


def generate_keys() -> tuple[str, str]:
    """Fresh keys shaped like Datadog's: a 32-hex API key and a 40-hex application key."""
    return secrets.token_hex(16), secrets.token_hex(20)


def mask(key: str) -> str:
    """A key as it may be shown: its last four characters only."""
    return f"****{key[-4:]}" if len(key) > 8 else "****"
