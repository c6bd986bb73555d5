"""DogStatsD routes of the sandbox, all sandbox-only (Datadog has no API onto an Agent's DogStatsD; keys as for the
API, the application key too):

- `GET /sandbox/dogstatsd`: whether and where it listens, its bounds, and the counters (received, metrics,
  events, service checks, malformed, unsupported, dropped, points written, ...).
- `POST /sandbox/dogstatsd/flush`: write every bucket now, the open one too (what the sandbox does when it stops),
  so a notebook can query what it just sent; the open bucket goes on collecting and is written again, whole,
  when it closes. Returns `{"points": n}`.
- `GET /sandbox/dogstatsd/service_checks?from=&to=[&check=]`: service check runs received (epoch s, newest first).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.dogstatsd.backend import DogStatsD
from autonomic_lib.sandbox.http.params import int_param
from autonomic_lib.sandbox.http.routing import json_response, route


async def status(request: Request, dogstatsd: DogStatsD) -> Response:
    return json_response(await run_in_threadpool(dogstatsd.stats))  # it waits for the worker's batch to be added


async def flush(request: Request, dogstatsd: DogStatsD) -> Response:
    points = await run_in_threadpool(lambda: dogstatsd.flush(force=True))
    return json_response({"points": points})


async def service_checks(request: Request, dogstatsd: DogStatsD) -> Response:
    start, end = int_param(request, "from"), int_param(request, "to")
    if start is None or end is None:
        raise IntakeError(400, "Parameters 'from' and 'to' (epoch seconds) are required")
    check = request.query_params.get("check")
    found = await run_in_threadpool(dogstatsd.service_checks, start=start, end=end, check=check)
    return json_response({"service_checks": found})


def routes(dogstatsd: DogStatsD) -> list[Route]:
    return [
        route("/sandbox/dogstatsd", "GET", status, dogstatsd, app_key=True),
        route("/sandbox/dogstatsd/flush", "POST", flush, dogstatsd, app_key=True),
        route("/sandbox/dogstatsd/service_checks", "GET", service_checks, dogstatsd, app_key=True),
    ]
