"""Request bodies checked against the official client's generated models (Datadog's OpenAPI spec).

The sandbox accepts exactly the types, enums and fields that spec knows, and names the JSON path of the first
violation, the way Datadog's 400 answers do. Shared by the dashboard, monitor and workflow products.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from datadog_api_client import Configuration
from datadog_api_client.exceptions import ApiAttributeError, ApiKeyError, ApiTypeError, ApiValueError
from datadog_api_client.model_utils import (
    ModelComposed,
    ModelNormal,
    ModelSimple,
    OpenApiModel,
    UnparsedObject,
    validate_and_convert_types,
)

_CONFIG = Configuration()  # only carries the client's type-check settings; never used to send anything

def schema_error(data: Any, model: type, path: str = "") -> str | None:
    """The first way `data` (JSON) breaks the client model `model`, as "<json path>: <reason>", or None.

    `path` is where `data` sits in the request ("" for the whole body), so the message names the full path.
    """
    return _explain(data, model, path)


def _at(path: str, reason: str) -> str:
    path = path.lstrip(".")
    return f"{path}: {reason}" if path else reason


def _explain(data: Any, model: Any, path: str) -> str | None:
    try:
        value = validate_and_convert_types(data, (model,), ["$"], True, True, configuration=_CONFIG)
    except (ApiTypeError, ApiValueError, ApiAttributeError, ApiKeyError) as exc:
        where = _json_path(model, list(getattr(exc, "path_to_item", None) or ["$"])[1:], path)
        return _at(where, str(exc).split(" at [")[0])
    except ValueError as exc:  # a model's own validations (`number of items must be ...`) raise a bare ValueError
        return _at(path, str(exc))
    except TypeError as exc:  # a required property is missing: the generated __init__ refuses the call
        missing = re.search(r"argument[s]?: '(\w+)'", str(exc))
        name = missing[1] if missing else "?"
        return _at(path, f"'{getattr(model, 'attribute_map', {}).get(name, name)}' is a required property")
    return _find_unparsed(value, data, model, path)


def _find_unparsed(value: Any, data: Any, model: Any, path: str) -> str | None:
    """Walk a converted value to the first part the client could not parse, and explain that part."""
    if isinstance(value, list):
        item_model = model[0] if isinstance(model, list) else model
        for i, item in enumerate(value):
            raw = data[i] if isinstance(data, list) and i < len(data) else None
            if (found := _find_unparsed(item, raw, item_model, f"{path}[{i}]")) is not None:
                return found
        return None
    if isinstance(value, dict) and isinstance(model, dict):
        inner = next(iter(model.values()))[0]
        return next((f for k, v in value.items() if (f := _find_unparsed(v, (data or {}).get(k), inner,
                                                                          f"{path}.{k}")) is not None), None)
    if not isinstance(value, OpenApiModel) or not value._unparsed:
        return None
    if isinstance(value, ModelSimple):
        return _at(path, f"{data!r} is not one of {sorted(type(value).allowed_values)}")
    if isinstance(value, UnparsedObject) or (isinstance(value, ModelComposed)
                                             and isinstance(value._composed_instances[0], UnparsedObject)):
        return _explain_composed(data, model, path)
    if isinstance(value, ModelComposed):
        return _find_unparsed(value._composed_instances[0], data, type(value._composed_instances[0]), path)
    if isinstance(value, ModelNormal):
        for name, child in value._data_store.items():
            key = value.attribute_map.get(name, name)
            raw = data.get(key) if isinstance(data, dict) else None
            if (found := _find_unparsed(child, raw, _field_model(type(value), name), f"{path}.{key}")) is not None:
                return found
    return _at(path, "is invalid")


def _explain_composed(data: Any, model: Any, path: str) -> str:
    """A oneOf that matched nothing: explain against the variant its `type` names, as Datadog's message does."""
    if isinstance(model, type) and issubclass(model, ModelNormal):
        return _explain(data, model, path) or _at(path, "is invalid")
    variants = [v for v in _variants(model) if isinstance(data, dict) and data.get("type") in _type_values(v)]
    reasons = [r for v in variants if (r := _explain(data, v, path)) is not None]
    if variants and len(reasons) == len(variants):
        return reasons[0]
    return _at(path, f"{data!r} is not valid under any of the given schemas")


def _variants(model: Any) -> Iterator[type]:
    """The concrete classes behind a (possibly nested) oneOf model."""
    if isinstance(model, type) and issubclass(model, ModelComposed):
        for variant in model._composed_schemas.get("oneOf", []):
            yield from _variants(variant)
    elif isinstance(model, type):
        yield model


def _type_values(model: type) -> frozenset[str]:
    field = getattr(model, "openapi_types", {}).get("type")
    enum = field[0] if field else None
    return frozenset(getattr(enum, "allowed_values", ()))


def _field_model(model: type, name: str) -> Any:
    types = getattr(model, "openapi_types", {}).get(name, (None,))
    nested = (t for t in types if isinstance(t, (list, dict)) or isinstance(t, type) and issubclass(t, OpenApiModel))
    return next(nested, types[0])


def _json_path(model: Any, segments: list[Any], path: str) -> str:
    """Render the client's python attribute path with the JSON names (camelCase in v2)."""
    for seg in segments:
        if isinstance(seg, int):
            path += f"[{seg}]"
            model = model[0] if isinstance(model, list) else model
            continue
        amap = getattr(model, "attribute_map", {}) if isinstance(model, type) else {}
        path += f".{amap.get(seg, seg)}"
        model = _field_model(model, seg) if isinstance(model, type) else None
    return path


def widget_types() -> dict[str, list[type]]:
    """Every widget `definition.type` the client's WidgetDefinition knows, with its model class(es)."""
    from datadog_api_client.v1.model.widget_definition import WidgetDefinition
    known: dict[str, list[type]] = {}
    for variant in WidgetDefinition._composed_schemas["oneOf"]:
        for value in set().union(*(_type_values(v) for v in _variants(variant))):
            known.setdefault(value, []).append(variant)
    return known
