"""Runs Workflow Automation instances in the sandbox, step by step, the way the kit's remediation workflow needs.

What a run does (Datadog sources: docs "Variables and parameters", "Workflow Logic", "Trigger a workflow";
a Datadog-exported workflow using `com.datadoghq.core.if` with `conditions[{leftValue, comparisonOperator,
rightValue}]`, `setVariables` and `casem.createCase` outputs `Steps.<name>.id/.key`):

* context variables `{{ Trigger.<input> }}` (input parameters: the payload over the input schema's defaults),
  `{{ Source.* }}` (what triggered the run), `{{ Steps.<name>.<output> }}`, `{{ Variables.<name> }}`,
  `{{ WorkflowName }}`, `{{ WorkflowId }}`, `{{ InstanceId }}`, with Handlebars paths (`a.b`, `a.[0]`, `.length`);
  a value that is exactly one `{{ expr }}` keeps its type; an unknown path renders empty (Handlebars) and is
  listed in the step's `unresolved`; inline `${...}` JavaScript is not run: the step fails saying so;
* the monitor trigger's `rateLimit` ({count, interval}) counts the workflow's monitor-started runs in the
  trailing interval of the trigger time (data time, so a backfilled timeline replays as if live);
* actions: core noop, sleep (`durationSeconds`, at most a day, on a virtual clock: nothing really sleeps),
  echo, setVariable(s), if (branches "true"/"false"), and the Case Management actions createCase and
  searchCases against the sandbox's cases (cases.py). Any other action fails the instance with a reason
  naming it; nothing is silently skipped.

Sizes are bounded (MAX_STEP_INPUT, MAX_STEP_OUTPUT, MAX_RUN_SIZE, nesting at MAX_JSON_DEPTH): a step past a bound
fails, and with it the instance, with a reason naming the bound; so output that doubles from step to step stops.

Instance shape (recorded get/list cassettes): `instanceStatus{detailsKind, displayName}`, `startTimestamp`,
`endTimestamp`, `outputs`, `source`, `stepStateAssociations[{stepName, stepState}]`, `trigger`. Success and
failure kinds (`SUCCEEDED`/`FAILED`) are not recorded anywhere and are a sandbox choice, as are the extra
`steps` (per-step inputs/outputs/errors) and `failure` fields.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from autonomic_lib.errors import AutonomicError, IntakeError
from autonomic_lib.sandbox.automation.cases import MAX_PAGE_SIZE, STANDARD_TYPE_ID, Cases, iso
from autonomic_lib.sandbox.http.identity import SANDBOX_USER, SANDBOX_USER_UUID
from autonomic_lib.sandbox.http.params import INT64_MAX, int_field, parse_int
from autonomic_lib.sandbox.http.routing import MAX_JSON_DEPTH

TriggerKind = Literal["api", "manual", "monitor"]

MAX_STEPS = 1000  # a loop through outbound edges stops here instead of spinning
MAX_SLEEP_S = 86400
# Sandbox bounds, in characters of JSON, far under Datadog's (docs.datadoghq.com/actions/workflows/limits/: an
# action's input and its output up to 15 MB each, a workflow's step outputs up to 150 MB together): the sandbox
# keeps an instance, every step's inputs and outputs included, as one document of its database, and reads all of a
# workflow's instances back on every list and every monitor-started run. A run of the kit's workflow is about 5 KB.
MAX_STEP_INPUT = MAX_STEP_OUTPUT = 1 << 20
MAX_RUN_SIZE = 4 << 20  # the inputs and outputs of an instance's steps, together
DATADOG_LIMITS = "https://docs.datadoghq.com/actions/workflows/limits/"
STATUS = {"SUCCEEDED": "Succeeded", "FAILED": "Failed", "IN_PROGRESS": "Running", "CANCELED": "Canceled"}
_EXPR = re.compile(r"\{\{\s*((?:(?!\}\}).)*?)\s*\}\}", re.DOTALL)
_JS = re.compile(r"\$\{")
_INTERVAL = re.compile(r"(\d+)s")
_SEGMENT = re.compile(r"\[([^\]]*)\]|([^.\[\]]+)")
_INDEX = re.compile(r"[0-9]{1,18}")  # an array index: ASCII digits (isdigit() takes '²', which int() refuses)
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: _loose(a) == _loose(b), "neq": lambda a, b: _loose(a) != _loose(b),
    "gt": lambda a, b: _num(a) > _num(b), "gte": lambda a, b: _num(a) >= _num(b),
    "lt": lambda a, b: _num(a) < _num(b), "lte": lambda a, b: _num(a) <= _num(b),
    "contains": lambda a, b: str(b) in (a if isinstance(a, list) else str(a)),
    "doesNotContain": lambda a, b: str(b) not in (a if isinstance(a, list) else str(a)),
    "isEmpty": lambda a, b: a in (None, "", [], {}), "isNotEmpty": lambda a, b: a not in (None, "", [], {}),
}
_SYMBOLS = {"==": "eq", "===": "eq", "!=": "neq", "!==": "neq", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}


class StepError(AutonomicError):
    """A step that cannot run; the reason goes on the instance."""


@dataclass
class Run:
    """The state of one running instance: its context variables and virtual clock."""

    cases: Cases  # where the run's Case Management actions act
    workflow: dict[str, Any]
    instance_id: str
    trigger: dict[str, Any]
    source: dict[str, Any]
    now: float
    steps: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)
    rendered: int = 0  # characters the current step's templates have produced so far
    size: int = 0  # characters of the inputs and outputs recorded so far

    def context(self) -> dict[str, Any]:
        """The variables a template sees; Steps and Variables as they are now (copies), so that a step whose output
        is `{{ Steps }}` or `{{ . }}` holds a snapshot, not the live dict it is then stored in (a cycle JSON
        cannot write)."""
        return {"Trigger": self.trigger, "Source": self.source, "Steps": dict(self.steps),
                "Variables": dict(self.variables),
                "WorkflowName": self.workflow["attributes"]["name"], "WorkflowId": self.workflow["id"],
                "InstanceId": self.instance_id}


# ------------------------------------------------------------------------------------------ templates
def lookup(context: dict[str, Any], path: str) -> tuple[bool, Any]:
    """(found, value) of a Handlebars path such as `Steps.Find.data.length` or `Source.monitor.tag_value.[a.b]`."""
    value: Any = context
    for bracket, plain in _SEGMENT.findall(path):
        key = bracket if bracket else plain
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, (list, str)) and key == "length":
            value = len(value)
        elif isinstance(value, list) and _INDEX.fullmatch(key) and int(key) < len(value):
            value = value[int(key)]
        else:
            return False, None
    return True, value


def render(value: Any, run: Run) -> Any:
    """A parameter value with its `{{ }}` expressions resolved (recursively through lists and objects)."""
    if isinstance(value, dict):
        return {k: render(v, run) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, run) for v in value]
    if not isinstance(value, str):
        return value
    if _JS.search(value):
        raise StepError(f"inline JavaScript expressions (${{...}}) are not run by the sandbox: {value!r}")
    context = run.context()
    whole = _EXPR.fullmatch(value.strip())
    if whole:
        found, result = lookup(context, whole.group(1))
        if found:
            return result
        run.unresolved.append(whole.group(1))
        return ""

    def one(match: re.Match[str]) -> str:
        found, result = lookup(context, match.group(1))
        if not found:
            run.unresolved.append(match.group(1))
            return ""
        text = _text(result)
        run.rendered += len(text)
        if run.rendered > MAX_STEP_INPUT:  # checked as the text grows: `{{ x }}` a thousand times would not fit
            raise StepError(f"its parameters render to more than {MAX_STEP_INPUT} characters; the sandbox takes "
                            f"at most {MAX_STEP_INPUT} per step (Datadog: 15 MB, {DATADOG_LIMITS})")
        return text

    return _EXPR.sub(one, value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)  # how JavaScript (and so Handlebars) prints an array
    return str(value)


def _loose(value: Any) -> Any:
    """Compare numbers as numbers even when one side is a numeric string (JavaScript's ==)."""
    try:
        return float(value) if not isinstance(value, bool) else value
    except (TypeError, ValueError):
        return value


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise StepError(f"cannot compare {value!r} as a number") from None


# ------------------------------------------------------------------------------------------ actions
Action = Callable[[Run, dict[str, Any]], dict[str, Any]]


def _noop(run: Run, params: dict[str, Any]) -> dict[str, Any]:
    return {}


def _sleep(run: Run, params: dict[str, Any]) -> dict[str, Any]:
    seconds = params.get("durationSeconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= MAX_SLEEP_S:
        raise StepError(f"durationSeconds must be a number of seconds between 0 and {MAX_SLEEP_S}, got {seconds!r}")
    run.now += float(seconds)  # virtual time: the instance's end moves, the sandbox does not block
    return {}


def _echo(run: Run, params: dict[str, Any]) -> dict[str, Any]:
    return {"value": params.get("value")}


def _set_variables(run: Run, params: dict[str, Any]) -> dict[str, Any]:
    items = params.get("variables")
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        raise StepError("parameter 'variables' must be a list of {name, value} objects")
    for item in items:
        run.variables[item["name"]] = item.get("value")
    return {"variables": {i["name"]: i.get("value") for i in items}}


def _set_variable(run: Run, params: dict[str, Any]) -> dict[str, Any]:
    name = params.get("variableName", params.get("name"))
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        raise StepError(f"parameter 'variableName' must start with a letter (letters, digits, _), got {name!r}")
    run.variables[name] = params.get("value")
    return {"variables": {name: params.get("value")}}


def _if(run: Run, params: dict[str, Any]) -> dict[str, Any]:
    """`conditions` joined by `joinOperator` (and/or), or one boolean `condition`; the branch is "true"/"false"."""
    if "condition" in params and "conditions" not in params:
        return {"condition": bool(params["condition"]) and params["condition"] not in ("false", "0")}
    conditions = params.get("conditions")
    join = str(params.get("joinOperator", "and")).lower()
    if not isinstance(conditions, list) or not conditions or join not in ("and", "or"):
        raise StepError("an if step needs 'conditions' (a non-empty list) and joinOperator 'and' or 'or'")
    results = []
    for i, cond in enumerate(conditions):
        if not isinstance(cond, dict):
            raise StepError(f"conditions[{i}] must be an object")
        operator: Any = cond.get("comparisonOperator", cond.get("comparator"))
        operator = _SYMBOLS.get(operator, operator) if isinstance(operator, str) else operator
        if not isinstance(operator, str) or operator not in _OPERATORS:
            raise StepError(f"conditions[{i}]: unknown comparison operator {operator!r}; "
                            f"the sandbox knows {', '.join(_OPERATORS)}")
        results.append(_OPERATORS[operator](cond.get("leftValue"), cond.get("rightValue")))
    return {"condition": all(results) if join == "and" else any(results)}


def _search_cases(run: Run, params: dict[str, Any]) -> dict[str, Any]:
    """Output mirrors GET /api/v2/cases (`data`: the cases, `meta`), so `Steps.x.data.length` counts them."""
    try:
        return run.cases.search(
            query=str(params.get("filter", params.get("query")) or ""),
            sort_field=str(params.get("sort_field") or "created_at"),
            ascending=str(params.get("sort_asc", "false")).lower() == "true",
            page_size=_int_input(params, "page_size", 10, low=1, high=MAX_PAGE_SIZE),
            page_number=_int_input(params, "page_number", 1))
    except IntakeError as exc:
        raise StepError(f"searchCases: {exc}") from None


def _int_input(params: dict[str, Any], name: str, default: int, *, low: int = 0, high: int = INT64_MAX) -> int:
    """An integer parameter: a whole JSON number (3 or 3.0, one number to JavaScript) or its text (what an inline
    template renders); `default` when empty. IntakeError naming the parameter otherwise (the caller makes it the
    step's failure)."""
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        return parse_int(value.strip(), name, low=low, high=high)
    return int_field(value, f"parameter '{name}'", low=low, high=high)


def _create_case(run: Run, params: dict[str, Any]) -> dict[str, Any]:
    """A case in `project_id`; a monitor-started run also files the group's tags and the monitor id as attributes."""
    if not params.get("project_id"):
        raise StepError("createCase needs project_id (a Case Management project UUID); it rendered empty")
    attrs = {k: params[k] for k in ("title", "description", "priority", "type_id", "status_name", "status")
             if params.get(k) not in (None, "")}
    attrs.setdefault("type_id", STANDARD_TYPE_ID)
    extra: dict[str, Any] = {}
    monitor = run.source.get("monitor") if isinstance(run.source, dict) else None
    if isinstance(monitor, dict):
        extra.update(monitor.get("tag_value") or {})
        extra["monitor_id"] = str(monitor.get("id"))
    if isinstance(params.get("attributes"), dict):
        extra.update(params["attributes"])
    relationships: dict[str, Any] = {"project": {"data": {"id": params["project_id"], "type": "project"}}}
    if params.get("assignee_id"):
        relationships["assignee"] = {"data": {"id": params["assignee_id"], "type": "user"}}
    data = {"type": "case", "attributes": attrs, "relationships": relationships}
    try:
        doc = run.cases.create_case(data=data, now=run.now, creation_source="WORKFLOW", attributes=extra)
    except IntakeError as exc:
        raise StepError(f"createCase: {exc}") from None
    return {"id": doc["id"], "key": doc["attributes"]["key"], "public_id": doc["attributes"]["public_id"],
            "title": doc["attributes"]["title"], "status": doc["attributes"]["status"], "data": doc}


ACTIONS: dict[str, Action] = {
    "com.datadoghq.core.noop": _noop, "com.datadoghq.core.sleep": _sleep, "com.datadoghq.core.echo": _echo,
    "com.datadoghq.core.setVariable": _set_variable, "com.datadoghq.core.setVariables": _set_variables,
    "com.datadoghq.core.if": _if, "com.datadoghq.dd.casem.createCase": _create_case,
    "com.datadoghq.dd.casem.searchCases": _search_cases,
}


# ------------------------------------------------------------------------------------------ running
def trigger_inputs(workflow: dict[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    """`Trigger.*`: the input schema's defaults overlaid with the payload (undeclared keys are kept)."""
    schema = (workflow["attributes"].get("spec") or {}).get("inputSchema")
    params = schema.get("parameters") if isinstance(schema, dict) else None
    inputs = {p["name"]: p["defaultValue"] for p in (params if isinstance(params, list) else [])
              if isinstance(p, dict) and isinstance(p.get("name"), str) and "defaultValue" in p}
    return {**inputs, **payload}


def rate_limit(workflow: dict[str, Any]) -> tuple[int, int] | None:
    """The monitor trigger's rateLimit as (runs, per seconds), or None when it has none (or an unreadable one)."""
    triggers = (workflow["attributes"].get("spec") or {}).get("triggers") or []
    limit = next((t["monitorTrigger"].get("rateLimit") for t in triggers
                  if isinstance(t, dict) and isinstance(t.get("monitorTrigger"), dict)), None)
    if not isinstance(limit, dict):
        return None
    match = _INTERVAL.fullmatch(str(limit.get("interval", "")))
    count = limit.get("count")
    if not match or not isinstance(count, int):
        return None
    return count, int(match.group(1))


def new_instance_id() -> str:
    return str(uuid.uuid4())


def pending(workflow: dict[str, Any], instance_id: str, *, payload: Mapping[str, Any], source: dict[str, Any],
            kind: TriggerKind, at: float) -> dict[str, Any]:
    """The document of an instance that has started and not finished (IN_PROGRESS, "Running", no end)."""
    return _document(workflow, instance_id, kind=kind, source=source, at=at, status="IN_PROGRESS", end=None,
                     trigger=trigger_inputs(workflow, payload), record=[], failure=None)


def execute(cases: Cases, workflow: dict[str, Any], *, payload: Mapping[str, Any],
            source: dict[str, Any], kind: TriggerKind, at: float, instance_id: str | None = None,
            canceled: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    """Run an instance of `workflow` to its end; returns the instance document (the backend stores it).

    Args:
        cases: where the run's Case Management actions act.
        kind: which trigger started it ("api", "manual" or "monitor"); `source` is its `Source` object.
        at: the trigger time (epoch s): the sandbox clock for API runs, the transition time for monitors.
        instance_id: the instance's id (a new one by default).
        canceled: asked before each step; once it answers True the run stops there, CANCELED (a step already
            running finishes first, as a cancel on Datadog does not interrupt an action).
    """
    spec = workflow["attributes"].get("spec") or {}
    instance_id = instance_id or new_instance_id()
    run = Run(cases, workflow, instance_id, trigger_inputs(workflow, payload), source, at)
    steps = {s["name"]: s for s in spec.get("steps") or [] if isinstance(s, dict) and "name" in s}
    trigger_key = f"{kind}Trigger"
    starts = next((t.get("startStepNames") for t in spec.get("triggers") or []
                   if isinstance(t, dict) and trigger_key in t), None)
    if starts is None:  # e.g. an API run of a workflow with only a monitor trigger: start where its triggers do
        starts = next((t.get("startStepNames") for t in spec.get("triggers") or [] if t.get("startStepNames")), [])
    queue: list[str] = list(starts or [])
    record: list[dict[str, Any]] = []
    failure: dict[str, Any] | None = None
    was_canceled = False
    while queue and failure is None:
        if canceled():
            was_canceled = True
            break
        if len(record) >= MAX_STEPS:
            failure = {"stepName": queue[0], "reason": f"more than {MAX_STEPS} steps ran; stopped"}
            break
        step = steps[queue.pop(0)]
        entry, branch = _run_step(run, step)
        record.append(entry)
        if entry["state"] == "FAILED":
            failure = {"stepName": step["name"], "actionId": step.get("actionId"), "reason": entry["error"]}
            break
        queue += [e["nextStepName"] for e in step.get("outboundEdges") or [] if isinstance(e, dict)
                  and e.get("branchName", "main") == branch and e.get("nextStepName") in steps]
    status = "CANCELED" if was_canceled else "FAILED" if failure else "SUCCEEDED"
    return _document(workflow, instance_id, kind=kind, source=source, at=at, status=status, end=run.now,
                     trigger=run.trigger, record=record, failure=failure)


def _document(workflow: dict[str, Any], instance_id: str, *, kind: TriggerKind, source: dict[str, Any], at: float,
              status: str, end: float | None, trigger: dict[str, Any], record: list[dict[str, Any]],
              failure: dict[str, Any] | None) -> dict[str, Any]:
    return {"id": instance_id, "type": "instances", "workflow_id": workflow["id"], "trigger_kind": kind,
            "triggered_at": at,
            "attributes": {"instanceStatus": {"detailsKind": status, "displayName": STATUS[status]},
                           "startTimestamp": iso(at), **({"endTimestamp": iso(end)} if end is not None else {}),
                           "outputs": {}, "source": _source_summary(kind, source), "sourceForTemplating": source,
                           "trigger": trigger,
                           "stepStateAssociations": [{"stepName": e["stepName"], "stepState": e["state"]}
                                                     for e in record],
                           "steps": record, **({"failure": failure} if failure else {})},
            "relationships": {"workflow": {"data": {"id": workflow["id"], "type": "workflows"}}}}


def _run_step(run: Run, step: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Execute one step; its record (state, inputs, outputs or error) and the branch to follow."""
    action_id = step.get("actionId")
    started = run.now
    run.unresolved, run.rendered = [], 0
    entry: dict[str, Any] = {"stepName": step["name"], "actionId": action_id, "startTimestamp": iso(started)}
    action = ACTIONS.get(str(action_id))
    try:
        if action is None:
            raise StepError(f"the sandbox cannot run action {action_id!r}; it runs {', '.join(sorted(ACTIONS))}")
        params = {p["name"]: render(p.get("value"), run) for p in step.get("parameters") or []
                  if isinstance(p, dict) and isinstance(p.get("name"), str)}
        size = json_size(params, MAX_STEP_INPUT, "inputs")
        entry["inputs"] = params
        outputs = action(run, params)
        size += json_size(outputs, MAX_STEP_OUTPUT, "output")
        if run.size + size > MAX_RUN_SIZE:
            del entry["inputs"]
            raise StepError(f"with its inputs and output the run's steps would hold {run.size + size} characters of "
                            f"JSON; the sandbox keeps at most {MAX_RUN_SIZE} per run (Datadog: 150 MB of step "
                            f"outputs, {DATADOG_LIMITS})")
        run.size += size
    except StepError as exc:
        entry.update(state="FAILED", error=f"step {step['name']!r} ({action_id}): {exc}",
                     endTimestamp=iso(run.now))
        return entry, ""
    run.steps[step["name"]] = outputs
    entry.update(state="SUCCEEDED", outputs=outputs, endTimestamp=iso(run.now))
    if run.unresolved:
        entry["unresolved"] = sorted(set(run.unresolved))
    branch = ("true" if outputs["condition"] else "false") if action_id == "com.datadoghq.core.if" else "main"
    return entry, branch


def json_size(value: Any, limit: int, what: str) -> int:
    """Characters of `value` as JSON (escapes aside); a StepError naming the step's `what` past `limit` characters or
    MAX_JSON_DEPTH levels.

    Level by level, no recursion, nothing serialised, and it stops at the first level past a bound; a level is only
    built from containers already counted, so a value made of shared parts (an earlier step's output listed twice,
    again and again) costs no more than `limit` to measure, and 1 MB of small values about 0.1 s.
    """
    size, level, depth = 0, [value], 0
    while level:
        nodes = [n for n in level if type(n) in _CONTAINERS]
        size += sum(len(n) + 2 if type(n) is str else len(str(n)) for n in level if type(n) not in _CONTAINERS)
        size += sum(1 + max(len(n), 1) + (sum(map(len, n)) + 3 * len(n) if type(n) is dict else 0) for n in nodes)
        if size > limit:
            raise StepError(f"the step's {what} would be more than {limit} characters of JSON; the sandbox keeps at "
                            f"most {limit} per step (Datadog: 15 MB, {DATADOG_LIMITS})")
        if nodes and depth == MAX_JSON_DEPTH:
            raise StepError(f"the step's {what} would nest more than {MAX_JSON_DEPTH} levels of arrays and "
                            f"objects; the sandbox keeps at most {MAX_JSON_DEPTH}")
        depth += 1
        level = [child for n in nodes for child in (n.values() if type(n) is dict else n)]
    return size


_CONTAINERS = (dict, list)


def _source_summary(kind: TriggerKind, source: dict[str, Any]) -> dict[str, Any]:
    """The instance's `source` (recorded: `{"api": {"actingUser": {...}}}`); a monitor's carries its id."""
    if kind == "monitor":
        monitor = source.get("monitor") or {}
        return {"monitor": {"monitorId": monitor.get("id"), "monitorName": monitor.get("name"),
                            "group": monitor.get("group")}}
    return {kind: {"actingUser": {"userEmail": SANDBOX_USER["email"], "userName": SANDBOX_USER["name"],
                                  "userUuid": SANDBOX_USER_UUID}}}
