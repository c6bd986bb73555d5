"""Sandbox-only routes under /sandbox/ for monitor evaluation status and history (filled by the monitor-evaluator work)."""

from __future__ import annotations

from starlette.routing import Route

ROUTES: list[Route] = []
