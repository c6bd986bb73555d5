"""Dashboard bodies, checked as Datadog's v1 API does: required fields, layout rules, every widget's schema."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from autonomic_lib.errors import IntakeError
from autonomic_lib.sandbox.http.schema import schema_error, widget_types


def check_dashboard(body: Any, new_widget_id: Callable[[], int], keep_ids: frozenset[int]) -> dict[str, Any]:
    """Validate a dashboard body like Datadog and return it with every widget carrying an integer `id`.

    A widget id the dashboard already had (`keep_ids`) is kept so that PUT of a fetched body is stable.
    """
    from datadog_api_client.v1.model.dashboard import Dashboard
    if not isinstance(body, dict):
        raise IntakeError(400, "The request body must be a JSON object describing a dashboard")
    for name in ("title", "layout_type", "widgets"):
        if name not in body:
            raise IntakeError(400, f"'{name}' is a required property")
    if not isinstance(body["title"], str):  # "" is accepted, as Datadog does (issue 13; no cassette found to cite)
        raise IntakeError(400, "'title' must be a string")
    if body["layout_type"] not in ("ordered", "free"):
        raise IntakeError(400, f"layout_type: {body['layout_type']!r} is not one of ['ordered', 'free']")
    reflow = body.get("reflow_type")
    if reflow is not None and body["layout_type"] != "ordered":
        raise IntakeError(400, "reflow_type: only an 'ordered' dashboard has a reflow_type")
    if not isinstance(body["widgets"], list):
        raise IntakeError(400, "widgets: must be an array of widgets")
    variables = body.get("template_variables") or []
    for tv in variables if isinstance(variables, list) else []:  # other types: the schema check names them
        if isinstance(tv, dict) and tv.get("default") is not None and tv.get("defaults"):
            raise IntakeError(400, "'template_variables' is invalid")  # recorded: default and defaults together
    tags = body.get("tags") or []
    for tag in tags if isinstance(tags, list) else [tags]:
        if not isinstance(tag, str) or not tag.startswith("team:"):
            raise IntakeError(400, f"tags: {tag!r} is not a team tag; dashboard tags must be 'team:<name>'")
    if (problem := schema_error({**body, "widgets": []}, Dashboard)) is not None:
        raise IntakeError(400, problem)
    layout_rule = "required" if body["layout_type"] == "free" or reflow == "fixed" else \
        "forbidden" if reflow == "auto" else None
    known = widget_types()
    widgets = [_check_widget(w, i, f"widgets[{i}]", known, new_widget_id, keep_ids, layout_rule, inner=False)
               for i, w in enumerate(body["widgets"])]
    return {**body, "widgets": widgets}


def _check_widget(widget: Any, i: int, path: str, known: dict[str, list[type]], new_id: Callable[[], int],
                  keep_ids: frozenset[int], layout_rule: str | None, inner: bool) -> dict[str, Any]:
    from datadog_api_client.v1.model.widget_layout import WidgetLayout
    what = "inner widget" if inner else "widget"
    definition = widget.get("definition") if isinstance(widget, dict) else None
    if not isinstance(definition, dict):
        raise IntakeError(400, f"Invalid {what} at position {i}. Error: 'definition' is a required property "
                               f"(at {path}.definition)")
    wtype = definition.get("type")
    prefix = f"Invalid {what} definition at position {i} of type {wtype}. Error: "
    if not isinstance(wtype, str) or wtype not in known:
        raise IntakeError(400, f"{prefix}unknown widget type {wtype!r} at {path}.definition.type; known types: "
                               f"{', '.join(sorted(known))}")
    if "layout" in widget and layout_rule == "forbidden":
        raise IntakeError(400, f"Invalid {what} at position {i}. Error: a widget of a dashboard with reflow_type "
                               f"'auto' has no layout (at {path}.layout)")
    if "layout" not in widget and layout_rule == "required":
        raise IntakeError(400, f"Invalid {what} at position {i}. Error: 'layout' is a required property "
                               f"(at {path}.layout)")
    if "layout" in widget and (problem := schema_error(widget["layout"], WidgetLayout, f"{path}.layout")):
        raise IntakeError(400, f"Invalid {what} at position {i}. Error: {problem}")
    if wtype == "group" and isinstance(definition.get("widgets"), list):
        try:
            children = [_check_widget(w, j, f"{path}.definition.widgets[{j}]", known, new_id, keep_ids, None, True)
                        for j, w in enumerate(definition["widgets"])]
        except IntakeError as exc:
            raise IntakeError(400, f"{prefix}{exc}") from None
        definition = {**definition, "widgets": children}
    reasons = [schema_error(definition, model, f"{path}.definition") for model in known[wtype]]
    if all(reasons):
        raise IntakeError(400, f"{prefix}{reasons[0]}")
    wid = widget.get("id")
    keep = isinstance(wid, int) and not isinstance(wid, bool) and wid in keep_ids
    return {**widget, "definition": definition, "id": wid if keep else new_id()}


def widget_ids(widgets: list[dict[str, Any]]) -> Iterator[int]:
    """Every widget id of a stored dashboard, inner group widgets included."""
    for widget in widgets:
        if isinstance(widget.get("id"), int):
            yield widget["id"]
        yield from widget_ids(widget.get("definition", {}).get("widgets") or [])
