"""JSON Schema ``pattern`` as the spec means it: an ECMA-262 regular expression.

``jsonschema`` searches patterns with Python's ``re``, whose ``$`` also matches before a final
newline, so ``"abc\\n"`` would pass ``^[a-z]+$``; in ECMA-262 (without the multiline flag) ``$``
matches only at the very end. The validator here reads ``$`` as Python's ``\\Z``, so a schema tool
refuses what the server it describes would refuse.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators


def ecma_anchors(pattern: str) -> str:
    """``pattern`` with each end-of-input ``$`` (not escaped, not in a class) as ``\\Z``."""
    out: list[str] = []
    escaped = in_class = False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "$":
            out.append(r"\Z")
            continue
        out.append(ch)
    return "".join(out)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(ecma_anchors(pattern))


def _pattern(
    validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _compiled(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


SchemaValidator = validators.extend(Draft202012Validator, {"pattern": _pattern})
"""Draft 2020-12, with ``pattern`` anchored as in ECMA-262."""
