"""Case Management routes of the sandbox: cases, projects and case actions (filled by the monitors/workflows/cases work)."""

from __future__ import annotations

from starlette.routing import Route

ROUTES: list[Route] = []
