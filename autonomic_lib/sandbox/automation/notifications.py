"""Monitor notifications in the sandbox: render the message, parse its @-handles, run what they mention, record it.

The evaluator calls `on_transition(automation, monitor, transition)` for every state change of a monitor group.
Rendering follows https://docs.datadoghq.com/monitors/notify/variables/ (DataDog/documentation
content/en/monitors/notify/variables.md): conditional sections `{{#is_alert}}`, `{{^is_alert}}`, is_warning,
is_no_data, is_unknown, is_recovery (back to OK from Alert, Warn, No Data or Unknown), is_alert_recovery,
is_warning_recovery, is_alert_to_warning, is_no_data_recovery, is_renotify (never, on a transition),
`{{#is_priority 'P1'}}`, `{{#is_match "tag.name" "a" "b"}}` (substring, any of), is_exact_match, `{{else}}`;
variables `{{value}}`, `{{threshold}}`, `{{warn_threshold}}`, `{{ok_threshold}}`, `{{comparator}}`,
`{{last_triggered_at}}` / `_epoch`, `{{<tag>.name}}` (several values: comma-joined, sorted) and
`{{[dot.key].name}}`; comments `{{!-- --}}`, `{{{{raw}}}}` blocks. Unknown variables render empty and are
listed on the notification. The sandbox does not HTML-escape variable content.

Handles (parsed from the rendered text, so `@slack-{{service.name}}` works): `@workflow-<handle>(k="v", n=1,
flag=true)` starts the published, monitor-triggerable workflow with the mention's parameters as trigger inputs
and the monitor as `Source`; `@case-<project handle>` opens (or comments on) a case for the monitor group;
emails and `@slack-`, `@pagerduty-`, `@webhook-`... are recorded, not delivered. Choices where Datadog is
unconfirmed: the title `[Triggered on {group}] <name>` (Recovered, Warn, No data), `Source` fields beyond
monitor.id/name/message/tag_value and url, and that `@case-` creates no case on a recovery. Events are the
evaluator's (monitors/service.py writes one per transition). No Data transitions notify only with
`notify_no_data` (so a new group's first OK is silent).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from autonomic_lib.sandbox.automation import workflows
from autonomic_lib.sandbox.automation.backend import Automation
from autonomic_lib.sandbox.automation.cases import STANDARD_TYPE_ID
from autonomic_lib.sandbox.monitors.evaluator import Transition

TITLES = {"Alert": "Triggered", "Warn": "Warn", "No Data": "No data", "OK": "Recovered", "Unknown": "Unknown"}
# Every pattern below runs on user text (monitor messages), so none may backtrack: quantifiers are possessive
# (`*+`, `++`), alternatives are disjoint, and a token body never holds an unquoted brace. Each search is then
# linear in the text from where it starts; the message itself is bounded by MAX_MESSAGE.
_TOKEN = re.compile(r"\{\{\{?\s*+([#^/]?)\s*+((?:[^{}\"'\s]++|\s++(?!\})|\"[^\"]*+\"|'[^']*+')*+)\s*+\}?\}\}")
_RAW = re.compile(r"\{\{\{\{\s*+raw\s*+\}\}\}\}(.*?)\{\{\{\{\s*+/raw\s*+\}\}\}\}", re.DOTALL)
_COMMENT = re.compile(r"\{\{!--.*?--\}\}|\{\{![^}]*+\}\}", re.DOTALL)
_ARGS = re.compile(r"\"([^\"]*+)\"|'([^']*+)'|(\S++)")
_COMPARATOR = re.compile(r"(>=|<=|==|!=|>|<)\s*+-?[\d.]++\s*+$")
_HANDLE = re.compile(r"(?<![\w.+-])@([\w.+-]++@[\w-]++(?:\.[\w-]++)++|[A-Za-z][\w-]*+(?:-[\w.-]*+)?)")
_PARAM = re.compile(r"\s*+([A-Za-z_]\w*+)\s*+=\s*+(\"(?:[^\"\\]|\\.)*+\"|'[^']*+'|[^,)]*+)\s*+(,|\))")
MAX_MESSAGE = 65_536  # characters of a rendered message; longer is cut (a sandbox bound: Datadog states none)
MAX_DEPTH = 32  # nested {{#section}}s (a sandbox bound)


@dataclass
class Handle:
    """One @-mention in a rendered message."""

    text: str
    kind: str  # workflow | case | email | slack | pagerduty | webhook | ... (the prefix)
    target: str
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


# ------------------------------------------------------------------------------------------ rendering
@dataclass
class MessageContext:
    """What a message may refer to for one transition of one group."""

    previous: str
    current: str
    tags: dict[str, str]
    variables: dict[str, str]
    priority: int | None = None
    unknown: list[str] = field(default_factory=list)

    def condition(self, name: str, args: list[str]) -> bool:
        prev, cur = self.previous, self.current
        if name in ("is_match", "is_exact_match"):
            if not args:
                return False
            value = self.variable(args[0].strip())
            wanted = args[1:] or [""]
            if name == "is_match":
                return any(w in value and (w or value) for w in wanted)
            return any(value == w or _same_number(value, w) for w in wanted)
        if name == "is_priority":
            return bool(args) and self.priority is not None and args[0].upper() == f"P{self.priority}"
        states = {"is_alert": cur == "Alert", "is_warning": cur == "Warn", "is_no_data": cur == "No Data",
                  "is_unknown": cur == "Unknown", "is_renotify": False,
                  "is_recovery": cur == "OK" and prev in ("Alert", "Warn", "No Data", "Unknown"),
                  "is_alert_recovery": prev == "Alert" and cur == "OK",
                  "is_warning_recovery": prev == "Warn" and cur == "OK",
                  "is_alert_to_warning": prev == "Alert" and cur == "Warn",
                  "is_no_data_recovery": prev == "No Data" and cur != "No Data"}
        if name not in states:
            self.unknown.append(f"#{name}")
        return states.get(name, False)

    def variable(self, name: str) -> str:
        name = name.strip()
        bracket = re.fullmatch(r"\[([^\]]+)\]\.name", name)
        key = bracket.group(1) if bracket else (name[:-5] if name.endswith(".name") else None)
        if key is not None:
            if key in self.tags:
                return self.tags[key]
        elif name in self.variables:
            return self.variables[name]
        self.unknown.append(name)
        return ""


def _same_number(a: str, b: str) -> bool:
    try:
        return float(a) == float(b)
    except ValueError:
        return False


def render(message: str, ctx: MessageContext) -> str:
    """The message as Datadog would send it for this transition."""
    raws: list[str] = []

    def keep_raw(match: re.Match[str]) -> str:
        raws.append(match.group(1))
        return f"\x00{len(raws) - 1}\x00"

    text = _COMMENT.sub("", _RAW.sub(keep_raw, message[:MAX_MESSAGE]))
    out, _ = _render_block(text, 0, ctx, None)
    out = re.sub("\x00(\\d+)\x00", lambda m: raws[int(m.group(1))], out)
    if len(out) > MAX_MESSAGE:
        ctx.unknown.append(f"message cut at {MAX_MESSAGE} characters")
        out = out[:MAX_MESSAGE]
    return out


def _render_block(text: str, pos: int, ctx: MessageContext, closing: str | None, depth: int = 0) -> tuple[str, int]:
    """Render from `pos` until `{{/closing}}` (or the end); returns the text and the position after it.

    Sections nest at most MAX_DEPTH deep; a deeper section tag renders nothing and is listed as unknown.
    """
    out: list[str] = []
    while True:
        match = _TOKEN.search(text, pos)
        if match is None:
            if closing is not None:
                ctx.unknown.append(f"unclosed {{{{#{closing}}}}}")
            out.append(text[pos:])
            return "".join(out), len(text)
        out.append(text[pos:match.start()])
        sigil, body = match.group(1), match.group(2)
        pos = match.end()
        if sigil == "/":
            if closing is not None and body.strip() == closing:
                return "".join(out), pos
            continue  # a stray closing tag renders nothing
        if sigil in "#^" and sigil:
            name, *args = [a or b or c for a, b, c in _ARGS.findall(body)] or [""]
            if depth >= MAX_DEPTH:
                ctx.unknown.append(f"sections nested deeper than {MAX_DEPTH}")
                continue
            truthy, pos, falsy = _section(text, pos, ctx, name, depth + 1)
            chosen = ctx.condition(name, args)
            out.append(truthy if chosen == (sigil == "#") else falsy)
            continue
        if body.strip() == "else" and closing is not None:
            out.append("\x01ELSE\x01")
            continue
        out.append(ctx.variable(body))


def _section(text: str, pos: int, ctx: MessageContext, name: str, depth: int) -> tuple[str, int, str]:
    inner, pos = _render_block(text, pos, ctx, name, depth)
    truthy, _, falsy = inner.partition("\x01ELSE\x01")
    return truthy, pos, falsy


def _number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")


def group_tag_values(group_tags: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`{{<key>.name}}` values: several values of a key are comma-joined in lexicographic order (documented)."""
    values: dict[str, list[str]] = {}
    for tag in group_tags:
        key, _, value = tag.partition(":")
        values.setdefault(key, []).append(value)
    return {k: ",".join(sorted(v)) for k, v in values.items()}


def message_context(monitor: dict[str, Any], transition: Transition) -> MessageContext:
    thresholds = (monitor.get("options") or {}).get("thresholds") or {}
    comparator = _COMPARATOR.search(monitor.get("query", ""))
    at = float(transition.at)
    variables = {"value": _number(transition.value),
                 "threshold": _number(thresholds.get("critical", transition.threshold)),
                 "warn_threshold": _number(thresholds.get("warning")),
                 "ok_threshold": _number(thresholds.get("critical_recovery", thresholds.get("ok"))),
                 "comparator": comparator.group(1) if comparator else "",
                 "last_triggered_at": datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                 "last_triggered_at_epoch": str(int(at * 1000))}
    return MessageContext(transition.previous, transition.current, group_tag_values(transition.group_tags),
                          variables, monitor.get("priority"))


# ------------------------------------------------------------------------------------------ handles
def parse_handles(text: str) -> list[Handle]:
    """Every @-handle of a rendered message, in order, workflow mention parameters parsed."""
    handles: list[Handle] = []
    for match in _HANDLE.finditer(text):
        word = match.group(1).rstrip(".")
        if "@" in word:
            handles.append(Handle("@" + word, "email", word))
            continue
        kind, _, target = word.partition("-")
        handle = Handle("@" + word, kind.lower(), target)
        if handle.kind == "workflow" and text[match.end():match.end() + 1] == "(":
            handle.params, handle.error, end = _params(text, match.end() + 1)
            handle.text = text[match.start():end]
        handles.append(handle)
    return handles


def _params(text: str, pos: int) -> tuple[dict[str, Any], str | None, int]:
    """Parse `name="v", n=1, flag=true)` starting after the '('; (params, error, end position)."""
    params: dict[str, Any] = {}
    if text[pos:].lstrip().startswith(")"):
        return params, None, text.index(")", pos) + 1
    while True:
        match = _PARAM.match(text, pos)
        if match is None:
            end = text.find(")", pos)
            return params, f"cannot parse workflow parameters at {text[pos:pos + 40]!r}", (end + 1 if end > 0 else pos)
        name, raw, sep = match.groups()
        params[name] = _param_value(raw.rstrip())  # an unquoted value's trailing blanks are not part of it
        pos = match.end()
        if sep == ")":
            return params, None, pos


def _param_value(raw: str) -> Any:
    if raw.startswith('"'):
        return orjson.loads(raw)
    if raw.startswith("'"):
        return raw[1:-1]
    if raw in ("true", "false"):
        return raw == "true"
    try:
        return int(raw)
    except ValueError:
        try:
            return float(raw)
        except ValueError:
            return raw


# ------------------------------------------------------------------------------------------ dispatch
def monitor_source(automation: Automation, monitor: dict[str, Any], transition: Transition,
                   text: str) -> dict[str, Any]:
    """The `Source` object a monitor-started workflow sees (Source.monitor.*, Source.url)."""
    group = transition.group
    url = automation.address.page_url("monitor", monitor["id"], **({"group": group} if group != "*" else {}))
    kind = {"OK": "recovery", "Alert": "alert", "Warn": "warn", "No Data": "no data"}.get(transition.current, "")
    if transition.current == "OK" and transition.previous in ("Alert", "Warn", "No Data"):
        kind = f"{ {'Alert': 'alert', 'Warn': 'warn', 'No Data': 'no data'}[transition.previous]} recovery"
    return {"type": "monitor", "name": monitor.get("name"), "url": url,
            "monitor": {"id": monitor["id"], "name": monitor.get("name"), "message": text,
                        "query": monitor.get("query"), "type": monitor.get("type"), "tags": monitor.get("tags", []),
                        "priority": monitor.get("priority"), "status": transition.current,
                        "previous_status": transition.previous, "group": group,
                        "group_tags": list(transition.group_tags), "tag_value": group_tag_values(transition.group_tags),
                        "value": transition.value, "threshold": transition.threshold, "url": url,
                        "transition": {"source_state": transition.previous, "destination_state": transition.current,
                                       "transition_type": kind},
                        "last_triggered_at_epoch": int(float(transition.at) * 1000)}}


def title_of(monitor: dict[str, Any], transition: Transition) -> str:
    label = TITLES.get(transition.current, transition.current)
    where = f" on {{{transition.group}}}" if transition.group != "*" else ""
    return f"[{label}{where}] {monitor.get('name', '')}"


def notifies(monitor: dict[str, Any], transition: Transition) -> bool:
    """Whether Datadog would notify: No Data transitions only with notify_no_data; nothing for no change."""
    if transition.previous == transition.current:
        return False
    no_data = bool((monitor.get("options") or {}).get("notify_no_data"))
    return no_data or "No Data" not in (transition.previous, transition.current)


def on_transition(automation: Automation, monitor: dict[str, Any], transition: Transition) -> dict[str, Any] | None:
    """Notify for one transition: render, dispatch the handles, store the notification.

    The evaluator (monitors/service.MonitorEvaluator) writes the transition's event in the events stream itself,
    for every transition, so this hook writes none (one event per transition, as on Datadog).

    Returns the stored notification, or None when Datadog would not notify (see `notifies`).
    """
    if not notifies(monitor, transition):
        return None
    ctx = message_context(monitor, transition)
    text = render(monitor.get("message") or "", ctx)
    title = title_of(monitor, transition)
    source = monitor_source(automation, monitor, transition, text)
    results = [_dispatch(automation, monitor, transition, handle, source, title, text)
               for handle in parse_handles(text)]
    return automation.record_notification({
        "monitor_id": monitor["id"], "monitor_name": monitor.get("name"), "group": transition.group,
        "group_tags": list(transition.group_tags), "previous": transition.previous, "current": transition.current,
        "at": float(transition.at), "value": transition.value, "threshold": transition.threshold, "title": title,
        "message": text, "unknown_variables": sorted(set(ctx.unknown)), "handles": results}, at=float(transition.at))


def _dispatch(automation: Automation, monitor: dict[str, Any], transition: Transition, handle: Handle,
              source: dict[str, Any], title: str, text: str) -> dict[str, Any]:
    result: dict[str, Any] = {"handle": handle.text, "kind": handle.kind, "target": handle.target}
    if handle.kind == "workflow":
        result["params"] = handle.params
        return {**result, **_start_workflow(automation, handle, source, transition)}
    if handle.kind == "case":
        return {**result, **_case(automation, monitor, transition, handle, title, text)}
    return {**result, "status": "recorded", "delivered": False,
            "reason": "the sandbox records external notifications and delivers none"}


def _start_workflow(automation: Automation, handle: Handle, source: dict[str, Any],
                    transition: Transition) -> dict[str, Any]:
    if handle.error:
        return {"status": "invalid", "reason": handle.error}
    workflow = automation.workflow_by_handle(handle.target)
    if workflow is None:
        return {"status": "not_found", "reason": f"no workflow has the handle {handle.target!r}"}
    if not workflows.monitor_triggerable(workflow):
        return {"status": "not_triggerable", "workflow_id": workflow["id"],
                "reason": "a monitor starts only a published workflow with a monitor trigger"}
    if (limited := automation.rate_limited(workflow["id"], at=float(transition.at))) is not None:
        return {"status": "rate_limited", "workflow_id": workflow["id"], "reason": limited}
    instance = automation.start_instance(workflow["id"], payload=handle.params, kind="monitor", source=source,
                                         at=float(transition.at))
    attrs = instance["attributes"]
    return {"status": "started", "workflow_id": workflow["id"], "instance_id": instance["id"],
            "instance_status": attrs["instanceStatus"]["detailsKind"],
            **({"reason": attrs["failure"]["reason"]} if "failure" in attrs else {})}


def _case(automation: Automation, monitor: dict[str, Any], transition: Transition, handle: Handle, title: str,
          text: str) -> dict[str, Any]:
    """`@case-<handle>`: one case per monitor group while it is open; later transitions comment on it."""
    cases = automation.cases
    project = cases.project_by_handle(handle.target)
    if project is None:
        return {"status": "not_found", "reason": f"no project has the monitor handle {handle.target!r} enabled"}
    query = f"status:open project:{project['id']} monitor_id:{monitor['id']} monitor_group:{transition.group}"
    open_cases = cases.search(query=query, page_size=1)["data"]
    if open_cases:
        case = open_cases[0]
        cases.add_comment(case["id"], message=f"{title}\n\n{text}", now=float(transition.at))
        if transition.current == "OK" and project["attributes"]["settings"]["integration_monitor"].get(
                "auto_resolve_enabled"):
            cases.update_case(case["id"], now=float(transition.at), status="CLOSED")
            return {"status": "closed", "case_id": case["id"], "case_key": case["attributes"]["key"]}
        return {"status": "commented", "case_id": case["id"], "case_key": case["attributes"]["key"]}
    if transition.current == "OK":
        return {"status": "skipped", "reason": "no open case for this group to update on recovery"}
    priority = f"P{monitor['priority']}" if monitor.get("priority") in (1, 2, 3, 4, 5) else "NOT_DEFINED"
    data = {"type": "case", "attributes": {"title": title, "description": text, "priority": priority,
                                           "type_id": project["attributes"]["settings"]["integration_monitor"].get(
                                               "case_type_id", STANDARD_TYPE_ID)},
            "relationships": {"project": {"data": {"id": project["id"], "type": "project"}}}}
    attributes = {**group_tag_values(transition.group_tags), "monitor_id": str(monitor["id"]),
                  "monitor_group": transition.group}
    case = cases.create_case(data=data, now=float(transition.at), creation_source="MONITOR", attributes=attributes)
    return {"status": "created", "case_id": case["id"], "case_key": case["attributes"]["key"]}
