"""The script file format: model turns, written down ahead of time, for offline runs and tests.

A script is YAML or JSON::

    version: 1
    description: what this script exercises
    priced_as: claude-haiku-4-5     # optional: a simulated cost, as if that model answered
    roles:
      planner:
        - tool_use: {name: submit_plan, input: {steps: [...]}}
          usage: {input_tokens: 812, output_tokens: 95}
      validator:
        - tool_use: {name: submit_verdict, input: {complete: true, reason: "..."}}
    escalation:                     # optional: the stronger model a role escalates to
      planner:
        - tool_use: {name: submit_plan, input: {steps: [...]}}

Each role's turns are replayed in order; a role's ``escalation`` turns in the order of its
escalated calls. The same ``Turn`` model drives the local
Anthropic-compatible test server, where a turn may also be an ``error`` to return.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from agentlab.errors import ScriptError
from agentlab.models.base import ESCALATING_ROLES, Role

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""PyYAML's safe loader on libyaml when it was built with it: the same documents as
``yaml.SafeLoader``, read about 8x faster (a scripted run reads its script as it starts)."""


class ScriptedToolUse(BaseModel):
    """A tool call the scripted model makes."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    input: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None


class ScriptedUsage(BaseModel):
    """Token usage reported for a scripted turn (zero unless the script says otherwise)."""

    model_config = ConfigDict(extra="forbid")

    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cache_read_input_tokens: int = Field(default=0, ge=0)
    cache_creation_input_tokens: int = Field(default=0, ge=0)


class ScriptedError(BaseModel):
    """An HTTP error the test server returns instead of a message (e.g. 529 overloaded)."""

    model_config = ConfigDict(extra="forbid")

    status: int = Field(ge=400, le=599)
    type: str = "api_error"
    message: str = "scripted error"
    body: str | None = Field(
        default=None,
        description="The body to send as it is, instead of the API's error shape (made of "
        "type and message): a gateway's or proxy's own error.",
    )


class Turn(BaseModel):
    """One model turn: text and/or tool calls, or (test server only) an error."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    tool_use: ScriptedToolUse | None = None
    tool_uses: list[ScriptedToolUse] = Field(default_factory=list)
    usage: ScriptedUsage = Field(default_factory=lambda: ScriptedUsage())
    stop_reason: str | None = None
    error: ScriptedError | None = None

    @model_validator(mode="after")
    def _has_content(self) -> Turn:
        if self.error is None and self.text is None and not self.all_tool_uses():
            raise ValueError("a turn needs 'text', 'tool_use', 'tool_uses' or 'error'")
        return self

    def all_tool_uses(self) -> list[ScriptedToolUse]:
        """``tool_use`` and ``tool_uses`` together, in order."""
        return ([self.tool_use] if self.tool_use else []) + list(self.tool_uses)


class Script(BaseModel):
    """A whole script: per role, the turns to replay."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(1, ge=1, le=1)
    description: str = ""
    priced_as: str | None = Field(
        None,
        description="A model of the pricing table to price the scripted calls as (a simulated "
        "cost, to exercise budgets offline); unset, scripted calls cost nothing.",
    )
    latency_s: float = Field(
        0.0,
        ge=0,
        le=600,
        description="Seconds each scripted call takes (simulated latency, e.g. to measure "
        "what concurrency buys); 0 answers at once.",
    )
    roles: dict[Role, list[Turn]]
    escalation: dict[Role, list[Turn]] = Field(
        default_factory=dict,
        description="Per role (planner, executor), the turns of the stronger model it escalates "
        "to, replayed in the order of its escalated calls; a role not named does not escalate.",
    )
    escalation_priced_as: str | None = Field(
        None,
        description="What the escalated calls are priced as (a stronger model costs more); "
        "unset, as priced_as.",
    )

    @model_validator(mode="after")
    def _priced(self) -> Script:
        from agentlab.models.pricing import price_of

        for name, model in (
            ("priced_as", self.priced_as),
            ("escalation_priced_as", self.escalation_priced_as),
        ):
            if model is not None and price_of(model) is None:
                raise ValueError(
                    f"{name} names {model!r}, which has no price in "
                    "agentlab/models/prices.toml: name a listed model"
                )
        return self

    @field_validator("escalation")
    @classmethod
    def _escalating(cls, escalation: dict[Role, list[Turn]]) -> dict[Role, list[Turn]]:
        for role in escalation:
            if role not in ESCALATING_ROLES:
                raise ValueError(
                    f"{role.value!r} cannot escalate: name "
                    f"{' or '.join(r.value for r in ESCALATING_ROLES)}"
                )
        return escalation


def load_script(path: str | Path) -> Script:
    """Read and validate a script file (``.yaml``, ``.yml`` or ``.json``)."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScriptError(f"script file not found: {path}") from None
    except OSError as exc:
        raise ScriptError(f"cannot read script file {path}: {exc.strerror}") from None
    return parse_script(raw, source=str(path))


def parse_script(text: str, *, source: str = "<script>") -> Script:
    """Parse script text (YAML, of which JSON is a subset) into a validated ``Script``."""
    try:
        data = yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ScriptError(f"{source} is not valid YAML/JSON{where}: fix its syntax") from None
    return script_of(data, source=source)


def script_of(data: Any, *, source: str = "<script>") -> Script:
    """Validate a script already parsed from YAML or JSON (``parse_script``'s errors)."""
    if not isinstance(data, dict):
        raise ScriptError(f"{source} must be a mapping with a 'roles' key (see docs in README)")
    try:
        return Script.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ScriptError(
            f"{source} is not a valid script: {loc}: {first['msg']} "
            f"({exc.error_count()} problem(s) in all)"
        ) from None


def dump_script(script: Script) -> str:
    """Serialize a script as JSON (a valid script file)."""
    return json.dumps(script.model_dump(mode="json", exclude_defaults=True), indent=2)
