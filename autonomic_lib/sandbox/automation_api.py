"""Workflow-instance and graph-snapshot routes of the sandbox (filled by the monitors/workflows/cases work)."""

from __future__ import annotations

from starlette.routing import Route

ROUTES: list[Route] = []
