"""A call's arguments as the tool will run with them, before anyone judges them.

``with_defaults`` fills in a JSON schema's ``default`` for each property a call leaves out (in
nested objects and array items too, following local ``$ref``), so the policy judges, the journal
records and the tool receives the values the call runs with: a rule denying ``channel: sms``
fires when the model leaves out a ``channel`` whose default is ``sms``. A default the schema
itself refuses is left out (the server applies its own). ``non_finite`` finds a number that is
NaN or infinite: JSON has none, and a NaN compares false with everything (a ``greater_than``
rule would never see it), so validation refuses such arguments.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel


def resolved(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """``schema`` with a local ``$ref`` (pydantic's ``#/$defs/...``) followed, keeping its own
    keys (a description, a default next to the reference)."""
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    target: Any = root
    for part in ref[2:].split("/"):
        target = target.get(part, {}) if isinstance(target, Mapping) else {}
    if not isinstance(target, Mapping):
        return schema
    return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}


def with_defaults(
    arguments: Mapping[str, Any],
    schema: Mapping[str, Any],
    valid: Callable[[Mapping[str, Any], Any], bool],
) -> dict[str, Any]:
    """A copy of ``arguments`` with the defaults of ``schema`` filled in where a property is
    missing; ``valid(subschema, value)`` says whether a default fits its property's schema.
    Containers are copied on the way down: ``arguments`` is left as it was."""
    out = dict(arguments)
    stack: list[tuple[dict[str, Any] | list[Any], Mapping[str, Any]]] = [(out, schema)]
    while stack:  # no recursion: arguments may nest deeper than the stack allows
        value, sub = stack.pop()
        sub = resolved(sub, schema)
        if isinstance(value, dict):
            properties = sub.get("properties")
            children = properties.items() if isinstance(properties, Mapping) else ()
            for name, prop in children:
                if not isinstance(prop, Mapping):
                    continue
                if name not in value:
                    own = resolved(prop, schema)
                    if "default" in own and valid(prop, own["default"]):
                        value[name] = copy.deepcopy(own["default"])
                elif isinstance(value[name], dict | list):
                    value[name] = child = copy.copy(value[name])
                    stack.append((child, prop))
        else:
            items = sub.get("items")
            if not isinstance(items, Mapping):
                continue
            for index, item in enumerate(value):
                if isinstance(item, dict | list):
                    value[index] = child = copy.copy(item)
                    stack.append((child, items))
    return out


def non_finite(arguments: Any) -> str | None:
    """Where in ``arguments`` a number is NaN or infinite (``amount``, ``items.2``), or
    ``None``."""
    stack: list[tuple[Any, str]] = [(arguments, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return path or "arguments"
        if isinstance(value, Decimal) and not value.is_finite():
            return path or "arguments"
        if isinstance(value, BaseModel):
            value = dict(value)
        if isinstance(value, Mapping):
            stack.extend((v, f"{path}.{k}" if path else str(k)) for k, v in value.items())
        elif isinstance(value, list | tuple | set | frozenset):
            stack.extend((v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(value))
    return None
