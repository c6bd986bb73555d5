"""Dashboard, monitor and workflow routes of the sandbox: Datadog's CRUD shapes (filled by the assets work)."""

from __future__ import annotations

from starlette.routing import Route

ROUTES: list[Route] = []
