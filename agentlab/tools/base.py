"""Tools are typed Python functions; their schema comes from the type hints, their description from
the docstring.

Argument constraints are stated once, in the signature (``Literal`` for enums,
``Annotated[int, Field(ge=1, le=50)]`` for ranges, ``Field(pattern=...)`` for patterns), and the
same Pydantic model produces the JSON schema the model sees and validates the call before it runs.
A bad call is data (an error ``ToolOutcome`` the planner can act on), never an exception.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypedDict, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from agentlab.models.base import ToolSpec


class Permission(StrEnum):
    """What a tool may do; ``destructive`` tools always wait for human approval."""

    READ = "read"
    WRITE = "write"
    DESTRUCTIVE = "destructive"


class ToolError(Exception):
    """Raised by a tool for an expected failure (not found, refused); it becomes an error result."""


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What the runtime tells a tool about the call.

    ``idempotency_key`` is the same every time the same step of the same run is executed, so a tool
    with side effects can recognise a re-execution after a crash and not act twice.
    """

    run_id: str
    step_id: str
    idempotency_key: str


class ToolOutcome(TypedDict):
    """The result of one tool call, as stored in the run state and shown to models."""

    ok: bool
    output: Any
    error: str | None


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem, in the words a model (or a person) can act on."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "arguments"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


class Tool:
    """A function the agent can call, with its schema, permission and approval rules."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        permission: Permission = Permission.READ,
        requires_confirmation: bool = False,
        cost_usd: float = 0.0,
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.description = inspect.cleandoc(fn.__doc__ or "").strip()
        if not self.description:
            raise ValueError(f"tool {self.name!r} needs a docstring: it is the model's prompt")
        self.permission = permission
        self.requires_confirmation = requires_confirmation
        self.cost_usd = cost_usd
        self._wants_context, self.arguments_model = _arguments_model(fn, self.name)
        schema = self.arguments_model.model_json_schema()
        schema.pop("title", None)
        self.spec = ToolSpec(self.name, self.description, schema)
        """The name, description and JSON schema a model is given."""

    @property
    def needs_approval(self) -> bool:
        """Whether every call waits for a human, whatever its arguments."""
        return self.requires_confirmation or self.permission is Permission.DESTRUCTIVE

    def validate(self, arguments: dict[str, Any]) -> BaseModel:
        """Check arguments against the schema; raises ``ValidationError``."""
        return self.arguments_model.model_validate(arguments)

    def invalid_arguments(self, arguments: dict[str, Any]) -> str | None:
        """Why ``arguments`` would be refused, or ``None`` when they are valid."""
        try:
            self.validate(arguments)
        except ValidationError as exc:
            return format_validation_error(exc)
        return None

    def run(self, context: ToolContext, arguments: dict[str, Any]) -> ToolOutcome:
        """Validate and call the function; expected failures come back as an error outcome."""
        try:
            parsed = self.validate(arguments)
        except ValidationError as exc:
            return ToolOutcome(
                ok=False, output=None, error=f"invalid arguments: {format_validation_error(exc)}"
            )
        kwargs = {field: getattr(parsed, field) for field in type(parsed).model_fields}
        try:
            output = self.fn(context, **kwargs) if self._wants_context else self.fn(**kwargs)
        except ToolError as exc:
            return ToolOutcome(ok=False, output=None, error=str(exc))
        return ToolOutcome(ok=True, output=output, error=None)


def tool(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    permission: Permission = Permission.READ,
    requires_confirmation: bool = False,
    cost_usd: float = 0.0,
) -> Any:
    """Declare a tool from a typed function: ``@tool`` or ``@tool(permission=...)``."""

    def wrap(f: Callable[..., Any]) -> Tool:
        return Tool(
            f,
            name=name,
            permission=permission,
            requires_confirmation=requires_confirmation,
            cost_usd=cost_usd,
        )

    return wrap(fn) if fn is not None else wrap


def _arguments_model(fn: Callable[..., Any], name: str) -> tuple[bool, type[BaseModel]]:
    """Build the Pydantic model of ``fn``'s parameters (a leading ``ToolContext`` is not one)."""
    try:
        hints = get_type_hints(fn, include_extras=True)
    except NameError as exc:
        raise TypeError(
            f"tool {name!r}: cannot resolve its type hints ({exc}); define the types "
            "it uses at module level"
        ) from None
    params = list(inspect.signature(fn).parameters.values())
    wants_context = bool(params) and hints.get(params[0].name) is ToolContext
    if wants_context:
        params = params[1:]
    fields: dict[str, Any] = {}
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"tool {name!r}: *args/**kwargs cannot be described to a model")
        if p.name not in hints:
            raise TypeError(f"tool {name!r}: parameter {p.name!r} needs a type hint")
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[p.name] = (hints[p.name], default)
    model = create_model(  # type: ignore[call-overload]
        f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
    )
    return wants_context, model
