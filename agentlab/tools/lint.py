"""Tools that explain themselves: what ``agentlab tools lint`` flags in a tool's declaration.

A tool's description and schema are the model's only prompt for it. Flagged: a description that
does not say when to use the tool, parameters without a description, ids without a range, free
strings named like a closed set of values (``channel``, ``status``...) with no ``enum`` or
``pattern``, and parameters of read tools not declared egress that are addresses (by their schema
``format``) or named like destinations (``url``, ``webhook``, ``to``...): such a tool may send
data out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agentlab.tools.arguments import resolved
from agentlab.tools.egress import ADDRESS_FORMATS
from agentlab.tools.tool import Risk, Tool

_WHEN = re.compile(
    r"\b(use (it|this)|use \w+ (when|to|for|before|after)|when\b|only (when|if|for)|before|after|"
    r"call (it|this))",
    re.IGNORECASE,
)
_ID = re.compile(r"(^|_)ids?$")
_DESTINATION = re.compile(
    r"(^|_)(url|urls|uri|link|href|endpoint|webhook|callback|host|hostname)$"
    r"|^(to|cc|bcc|recipients?)$",
    re.IGNORECASE,
)
"""Parameter names that say where something goes. ``email`` and ``phone`` are not among them:
in a read tool they are usually what to look up (an email or phone *value* still makes a call
egress: ``egress.py``)."""
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
            schema = resolved(schema, tool.input_schema)
            findings.extend(_parameter(tool.name, name, schema))
            if tool.risk is Risk.READ and not tool.egress:
                findings.extend(_destination(tool.name, name, schema))
    return findings


def _destination(tool: str, name: str, schema: Mapping[str, Any]) -> list[Finding]:
    """A read tool's parameter that says where data goes: it may send data out."""
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt.lower() in ADDRESS_FORMATS:
        what = f"an address (format {fmt})"
    elif _DESTINATION.search(name):
        what = "a destination (by its name)"
    else:
        return []
    return [
        Finding(
            tool,
            name,
            f"a read tool taking {what}: if the tool sends data there (fetches, posts, mails), "
            "declare it egress (@tool(egress=True), or the policy file's egress:), so that "
            "after untrusted content every call asks, whatever the value looks like",
        )
    ]


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
