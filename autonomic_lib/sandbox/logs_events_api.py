"""Log and event routes of the sandbox: logs intake and search, events post and list (filled by the swarm/telemetry work)."""

from __future__ import annotations

from starlette.routing import Route

ROUTES: list[Route] = []
