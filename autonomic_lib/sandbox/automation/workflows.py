"""Workflow Automation bodies (v2): the structure Datadog checks before accepting a workflow, handles, sort keys.

The sandbox accepts any action id (it cannot know the whole action catalogue), but refuses what Datadog's
spec makes impossible: duplicate or dangling step names, malformed triggers, missing action ids. Errors are
JSON:API objects carrying the JSON path, the way Datadog's workflow API reports them.

Monitor mentions: a monitor message says `@workflow-<handle>`; the handle is the spec's `handle` ("Unique
identifier used to trigger workflows automatically in Datadog"). `handle_of` reads it (the backend's
`workflow_by_handle` resolves a mention with it), and `monitor_triggerable` says whether a monitor may start the
workflow (monitor trigger, published). The backend stores workflows; this module only judges their bodies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from datadog_api_client.v2.model.input_schema import InputSchema
from datadog_api_client.v2.model.output_schema import OutputSchema
from datadog_api_client.v2.model.step import Step
from datadog_api_client.v2.model.trigger import Trigger

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.http.schema import schema_error

DESCRIPTION_LIMIT = 300  # recorded: "workflow description exceeds size limit of [300] characters"
HANDLE = re.compile(r"[A-Za-z0-9_-]+")  # sandbox rule: what a `@workflow-<handle>` mention can carry
ATTRIBUTES = ("name", "description", "tags", "spec", "published")
# list_workflows' sort keys; one sandbox user owns everything and runs are not tracked here, so those three tie
SORT_KEYS: dict[str, Callable[[dict[str, Any]], str]] = {
    "name": lambda w: w["attributes"]["name"].lower(), "createdAt": lambda w: w["attributes"]["createdAt"],
    "updatedAt": lambda w: w["attributes"]["updatedAt"], "creatorName": lambda w: "", "ownerName": lambda w: "",
    "lastExecutedAt": lambda w: ""}


def trigger_wrappers() -> dict[str, type]:
    """Trigger JSON key (`monitorTrigger`, ...) -> the client's wrapper model, from the Trigger oneOf."""
    wrappers = {}
    for wrapper in Trigger._composed_schemas["oneOf"]:
        keys = [wrapper.attribute_map[k] for k in wrapper.openapi_types if k != "start_step_names"]
        wrappers[keys[0]] = wrapper
    return wrappers


def check_attributes(attrs: Any, *, other_handles: dict[str, str], path: str = "data.attributes") -> list[str]:
    """Every problem of a workflow's attributes (create, or update after merging); [] when acceptable.

    Args:
        attrs: the `data.attributes` object.
        other_handles: handles already used by other workflows, mapped to their ids.
    """
    if not isinstance(attrs, dict):
        return [f"{path}: attributes must be an object"]
    problems: list[str] = []
    if not isinstance(attrs.get("name"), str) or not attrs["name"].strip():
        problems.append(f"{path}.name: a workflow needs a non-empty name")
    description = attrs.get("description")
    if description is not None and not isinstance(description, str):
        problems.append(f"{path}.description: must be a string")
    elif description and len(description) > DESCRIPTION_LIMIT:
        problems.append(f"workflow description exceeds size limit of [{DESCRIPTION_LIMIT}] characters")
    tags = attrs.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        problems.append(f"{path}.tags: must be an array of strings")
    if "published" in attrs and not isinstance(attrs["published"], bool):
        problems.append(f"{path}.published: must be true or false")
    spec = attrs.get("spec")
    if not isinstance(spec, dict):
        return problems + [f"{path}.spec: a workflow needs a spec object"]
    spec_problems = check_spec(spec, f"{path}.spec")
    handle = spec.get("handle")
    if handle is not None and (not isinstance(handle, str) or not HANDLE.fullmatch(handle)):
        spec_problems.append(f"{path}.spec.handle: {handle!r} must be letters, digits, '-' or '_' so that "
                             "'@workflow-<handle>' can mention it")
    elif handle in other_handles:
        spec_problems.append(f"{path}.spec.handle: {handle!r} is already the handle of workflow "
                             f"{other_handles[handle]}")
    return problems + (["spec is invalid", *spec_problems] if spec_problems else [])


def check_spec(spec: dict[str, Any], path: str) -> list[str]:
    """Structural checks of a spec: triggers, steps and their edges, input/output schemas."""
    problems: list[str] = []
    steps = spec.get("steps", [])
    names: set[str] = set()
    if not isinstance(steps, list):
        problems.append(f"{path}.steps: must be an array of steps")
        steps = []
    for i, step in enumerate(steps):
        where = f"{path}.steps[{i}]"
        if not isinstance(step, dict):
            problems.append(f"{where}: must be an object")
            continue
        name, action = step.get("name"), step.get("actionId")
        if not isinstance(name, str) or not name:
            problems.append(f"{where}.name: a step needs a non-empty name")
        elif name in names:
            problems.append(f"{where}.name: step name {name!r} is used twice; step names must be unique")
        else:
            names.add(name)
        if not isinstance(action, str) or not action:
            problems.append(f"{where}.actionId: a step needs an actionId string, e.g. 'com.datadoghq.core.noop'")
        if (problem := schema_error(step, Step, where)) is not None and isinstance(name, str) and name \
                and isinstance(action, str) and action:
            problems.append(problem)
        problems += _parameter_names(step.get("parameters"), f"{where}.parameters", unique=False)
    for i, step in enumerate(s for s in steps if isinstance(s, dict)):
        edges = step.get("outboundEdges")
        for j, edge in enumerate(edges if isinstance(edges, list) else []):  # other types: schema_error named them
            if not isinstance(edge, dict):  # the client's model lets [null, null] by
                problems.append(f"{path}.steps[{i}].outboundEdges[{j}]: must be an object {{nextStepName, branchName}}")
                continue
            target = edge.get("nextStepName")
            if isinstance(target, str) and target not in names:
                problems.append(f"{path}.steps[{i}].outboundEdges[{j}].nextStepName: no step is named {target!r}")
    problems += _check_triggers(spec.get("triggers"), names, path)
    for key, model in (("inputSchema", InputSchema), ("outputSchema", OutputSchema)):
        if key in spec and not isinstance(spec[key], dict):  # the client's model lets [null] by
            problems.append(f"{path}.{key}: must be an object {{parameters: [...]}}")
        elif key in spec and (problem := schema_error(spec[key], model, f"{path}.{key}")) is not None:
            problems.append(problem)
        params = spec.get(key, {}).get("parameters") if isinstance(spec.get(key), dict) else None
        problems += _parameter_names(params, f"{path}.{key}.parameters", unique=True)
    return problems


def _parameter_names(params: Any, where: str, *, unique: bool) -> list[str]:
    """The problem of a parameter list's names, if any: each must be a non-empty string (the client's models let a
    null name by, and a run keys its inputs by name), unique where the spec says so."""
    names = [p.get("name") for p in params if isinstance(p, dict)] if isinstance(params, list) else []
    if not all(isinstance(name, str) and name for name in names):
        return [f"{where}: every parameter needs a non-empty name string"]
    if unique and len(names) != len(set(names)):
        return [f"{where}: parameter names must be unique"]
    return []


def _check_triggers(triggers: Any, step_names: set[str], path: str) -> list[str]:
    if not isinstance(triggers, list) or not triggers:
        return ["no trigger found. At least one trigger is required."]  # recorded wording
    wrappers, problems, seen = trigger_wrappers(), [], set()
    for i, trigger in enumerate(triggers):
        where = f"{path}.triggers[{i}]"
        kinds = [k for k in (trigger if isinstance(trigger, dict) else {}) if k != "startStepNames"]
        if len(kinds) != 1 or kinds[0] not in wrappers:
            problems.append(f"{where}: a trigger holds exactly one of {', '.join(sorted(wrappers))} "
                            f"(and optionally startStepNames), got {sorted(kinds)}")
            continue
        if kinds[0] in seen:
            problems.append(f"{where}: trigger type {kinds[0]!r} appears twice; each trigger type may appear once")
        seen.add(kinds[0])
        if (problem := schema_error(trigger, wrappers[kinds[0]], where)) is not None:
            problems.append(problem)
            continue
        for j, start in enumerate(trigger.get("startStepNames") or []):
            if start not in step_names:
                problems.append(f"{where}.startStepNames[{j}]: no step is named {start!r}")
    return problems


def handle_of(workflow: dict[str, Any]) -> str | None:
    """The mention handle of a stored workflow (`@workflow-<handle>`), or None."""
    handle = (workflow.get("attributes", {}).get("spec") or {}).get("handle")
    return handle if isinstance(handle, str) else None


def monitor_triggerable(workflow: dict[str, Any]) -> bool:
    """True when a monitor mention may start the workflow: a monitor trigger, a handle, and published."""
    attrs = workflow.get("attributes", {})
    triggers = (attrs.get("spec") or {}).get("triggers") or []
    return bool(attrs.get("published")) and handle_of(workflow) is not None \
        and any(isinstance(t, dict) and "monitorTrigger" in t for t in triggers)


def sort_key(field: str) -> Callable[[dict[str, Any]], str]:
    """The key of one `sort` field (`name` or `-name`); a 400 naming the fields there are otherwise."""
    key = SORT_KEYS.get(field.lstrip("-"))
    if key is None:
        raise IntakeError(400, f"sort: unknown field {field!r}; expected {', '.join(SORT_KEYS)}")
    return key


def sort_fields(text: str | None) -> list[str]:
    """The fields of a `sort` parameter (`name,-createdAt`), each checked, the last one first (they apply last
    to first, so the first field is the primary order)."""
    fields = [f.strip() for f in (text or "").split(",") if f.strip()]
    for field in reversed(fields):
        sort_key(field)
    return fields
