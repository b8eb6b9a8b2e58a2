"""A policy rule's tests on one argument: ``when: {amount: {greater_than: 100}}``.

Strings are compared as a person reads them (``normalise.py``: NFKC, invisible characters
removed, look-alike letters read as Latin ones, case-folded, trimmed, a host's trailing dot
dropped, and for ``equals``, ``in`` and ``not_in`` a leading ``#`` or ``@`` ignored), so that a
disguised value neither dodges a rule that restricts nor earns one that allows: the condition of
a ``deny`` or ``ask`` rule holds when it holds for the value as given *or* normalised; that of
an ``allow`` rule only when it holds for both. ``exact: true`` compares the value as given only.

``matches`` is a Python regular expression, searched (``re.search``: anywhere in the value, so
anchor it with ``^`` and ``$``; ``$`` is the end of the value) ignoring case; on the normalised
value its letters are read as the value's are. ``greater_than`` and ``less_than`` compare finite
numbers (a call's NaN never reaches the policy: validation refuses it, and the file may not name
one); ``longer_than`` and ``shorter_than`` count the value as given.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agentlab.tools.arguments import non_finite
from agentlab.tools.normalise import comparable, normalised, pattern


class Condition(BaseModel):
    """Tests on one argument; every test given must hold."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    equals: Any = None
    in_: list[Any] | None = Field(None, alias="in")
    not_in: list[Any] | None = None
    greater_than: float | None = Field(None, allow_inf_nan=False)
    less_than: float | None = Field(None, allow_inf_nan=False)
    longer_than: int | None = Field(None, ge=0)
    shorter_than: int | None = Field(None, ge=0)
    matches: str | None = None
    exact: bool = False
    """Compare the value as given: no normalisation."""

    @field_validator("matches")
    @classmethod
    def _compiles(cls, regex: str | None) -> str | None:
        if regex is not None:
            try:
                re.compile(regex)
                pattern(regex)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return regex

    @field_validator("equals", "in_", "not_in")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        if non_finite(value) is not None:
            raise ValueError("a number must be finite, not NaN or infinity")
        return value

    def holds(self, value: Any, *, restricting: bool = True) -> bool:
        """Whether every test holds for ``value``: as given or normalised when the rule
        ``restricting`` (deny, ask), as given and normalised when it allows."""
        given = self._holds(value, normalise=False)
        if self.exact:
            return given
        seen = self._holds(value, normalise=True)
        return (given or seen) if restricting else (given and seen)

    def _holds(self, value: Any, *, normalise: bool) -> bool:
        key = comparable if normalise else _as_given
        checks = []
        if "equals" in self.model_fields_set:
            checks.append(key(value) == key(self.equals))
        if self.in_ is not None:
            checks.append(key(value) in [key(v) for v in self.in_])
        if self.not_in is not None:
            checks.append(key(value) not in [key(v) for v in self.not_in])
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if self.greater_than is not None:
            checks.append(number and value > self.greater_than)
        if self.less_than is not None:
            checks.append(number and value < self.less_than)
        sized = isinstance(value, str | list | tuple | dict)
        if self.longer_than is not None:
            checks.append(sized and len(value) > self.longer_than)
        if self.shorter_than is not None:
            checks.append(sized and len(value) < self.shorter_than)
        if self.matches is not None:
            if not isinstance(value, str):
                checks.append(False)
            elif normalise:
                checks.append(pattern(self.matches).search(normalised(value)) is not None)
            else:
                checks.append(re.search(self.matches, value) is not None)
        return all(checks)

    def describe(self) -> str:
        parts = []
        for name in ("equals", "in_", "not_in", "greater_than", "less_than"):
            if name in self.model_fields_set:
                parts.append(f"{name.rstrip('_').replace('_', ' ')} {getattr(self, name)!r}")
        for name in ("longer_than", "shorter_than"):
            if name in self.model_fields_set:
                parts.append(f"{name.replace('_', ' ')} {getattr(self, name)}")
        if self.matches is not None:
            parts.append(f"matching /{self.matches}/")
        text = " and ".join(parts)
        return f"{text} (exactly)" if self.exact else text


def _as_given(value: Any) -> Any:
    return value
