"""Tools that explain themselves: what ``agentlab tools lint`` flags in a tool's declaration.

A tool's description and schema are the model's only prompt for it. Flagged: a description that
does not say when to use the tool, parameters without a description, ids without a range, and free
strings named like a closed set of values (``channel``, ``status``...) with no ``enum`` or
``pattern``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agentlab.tools.tool import Tool

_WHEN = re.compile(
    r"\b(use (it|this)|use \w+ (when|to|for|before|after)|when\b|only (when|if|for)|before|after|"
    r"call (it|this))",
    re.IGNORECASE,
)
_ID = re.compile(r"(^|_)ids?$")
_ENUM_LIKE = frozenset(
    {
        "channel",
        "status",
        "state",
        "type",
        "kind",
        "mode",
        "level",
        "category",
        "priority",
        "format",
        "method",
        "role",
        "plan",
        "tier",
        "severity",
        "direction",
        "unit",
        "currency",
    }
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing to fix in ``tool``'s declaration (``parameter`` if it is about one)."""

    tool: str
    parameter: str | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.tool}.{self.parameter}" if self.parameter else self.tool
        return f"{where}: {self.problem}"


def lint(tools: Iterable[Tool]) -> list[Finding]:
    """What each tool's declaration leaves a model to guess."""
    findings: list[Finding] = []
    for tool in tools:
        if not _WHEN.search(tool.description):
            findings.append(
                Finding(
                    tool.name,
                    None,
                    "the description does not say when to use the tool (e.g. 'Use it to ...', "
                    "'Only when ...')",
                )
            )
        properties = tool.input_schema.get("properties", {})
        for name, schema in properties.items():
            findings.extend(_parameter(tool.name, name, _resolved(schema, tool.input_schema)))
    return findings


def _parameter(tool: str, name: str, schema: Mapping[str, Any]) -> list[Finding]:
    found = []
    if not schema.get("description"):
        found.append(Finding(tool, name, "has no description"))
    types = _types(schema)
    if _ID.search(name) and types & {"integer", "number"} and not _bounded(schema):
        found.append(Finding(tool, name, "an id without a range (minimum)"))
    if (
        name.lower() in _ENUM_LIKE
        and "string" in types
        and not any(k in schema for k in ("enum", "const", "pattern"))
    ):
        found.append(
            Finding(tool, name, "a free string named like a set of values: give it an enum")
        )
    return found


def _types(schema: Mapping[str, Any]) -> set[str]:
    kinds = schema.get("type")
    found = set([kinds] if isinstance(kinds, str) else kinds or [])
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        found |= _types(option)
    if "enum" in schema:
        found.add("string")
    return found


def _bounded(schema: Mapping[str, Any]) -> bool:
    keys = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")
    return any(k in schema for k in keys) or any(
        _bounded(o) for o in schema.get("anyOf", []) + schema.get("oneOf", [])
    )


def _resolved(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """``schema`` with a local ``$ref`` (pydantic's ``#/$defs/...``) followed, keeping its own
    keys (a description next to the reference)."""
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    target: Any = root
    for part in ref[2:].split("/"):
        target = target.get(part, {}) if isinstance(target, Mapping) else {}
    return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
