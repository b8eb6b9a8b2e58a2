"""Tools: what a model may call, from a typed Python function or from a JSON schema.

A function tool states its constraints once, in its signature (``Literal`` for enums,
``Annotated[int, Field(ge=1, le=50)]`` for ranges, ``Field(pattern=...)`` for patterns); the same
Pydantic model gives the JSON schema the model sees and validates calls. A schema tool (how MCP,
HTTP and A2A tools arrive) has no Python signature: its JSON schema is checked with ``jsonschema``,
after its defaults are filled in. Either way the validated arguments hold every default (what the
policy judges is what the tool runs with) and no NaN or infinite number, and a bad call is data
(an error result the planner can act on), never an exception.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from typing_extensions import TypedDict

from agentlab.models.base import ToolSpec
from agentlab.tools.arguments import non_finite, with_defaults

DEFAULT_TIMEOUT_S = 60.0
OUTPUT_DEPTH_CEILING = 200
"""The deepest a tool output may be allowed to nest: the run's checkpoints hold it a few levels
down, and their serializer stops at 255 levels."""


class Risk(StrEnum):
    """What a tool may do to the world: read it, change it, or change it irreversibly."""

    READ = "read"
    WRITE = "write"
    DESTRUCTIVE = "destructive"


class ToolError(Exception):
    """Raised by a tool for an expected failure (not found, refused); it becomes an error result."""


class EffectUnknown(ToolError):
    """Raised by a tool (or a toolset) when its request may have reached the system it acts on
    and no answer came back (a connection lost mid-call, a timeout after sending): whether the
    call took effect is unknown. For a tool that is not idempotent the run then asks a person, as
    after a crash; an idempotent tool's call is an error result the model may retry."""


class InvalidArguments(ValueError):
    """Arguments that do not fit a tool's schema; the message lists every problem."""


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What the runtime tells a tool about the call.

    ``idempotency_key`` is the same every time the same call of the same run is executed (after a
    crash, on resume, when a person answers "run it again"), so a tool can pass it to an external
    API and not act twice. ``fencing_token`` grows each time a process claims the run: a system
    that keeps the greatest token it has seen per run (or per resource) and refuses smaller ones
    shuts out a process that was stopped or cut off past its lease while another took the run
    over (0 where runs are not leased). ``deps`` is what the agent's ``deps`` factory built for
    the run (database handles, clients), or ``None``; ``memory`` the agent's long-term memory
    (``agentlab.memory.LongTermMemory``: knowledge base, facts), or ``None``.
    """

    run_id: str
    call_id: str
    idempotency_key: str
    fencing_token: int = 0
    principal: str = ""
    session: str | None = None
    deps: Any = None
    memory: Any = None


class ToolOutcome(TypedDict):
    """The result of one tool call, as stored in the run state and shown to models."""

    ok: bool
    output: Any
    error: str | None


Handler = Callable[[ToolContext, dict[str, Any]], Awaitable[Any]]
"""Runs a tool: the call's context and its validated arguments, as canonical JSON data (what
``validate`` returned, made JSON), in; the output back."""

Validator = Callable[[dict[str, Any]], dict[str, Any]]
"""Checks raw arguments; returns them as the handler receives them, or raises InvalidArguments."""


@dataclass(frozen=True)
class Tool:
    """A tool: what the model is told (name, description, schema), how risky it is, how to run it.

    ``idempotent`` tools may safely run twice with the same arguments; ``timeout_s`` bounds a
    call; ``requires_confirmation`` asks a human for every call; ``cost_usd`` is what a call costs.
    Build one with ``@tool`` (a typed function) or ``Tool.from_schema`` (a JSON schema).
    """

    name: str
    description: str
    input_schema: dict[str, Any]
    handler: Handler = field(repr=False)
    validator: Validator = field(repr=False)
    risk: Risk = Risk.READ
    idempotent: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S
    requires_confirmation: bool = False
    cost_usd: float = 0.0
    egress: bool = False
    """The tool sends data out (mail, webhooks, uploads): after untrusted content, ask first."""
    source: str = ""
    """Where the tool comes from: its function's file and line (``/path/tools.py:12``), an MCP
    server (``mcp:name (command line)``)..."""
    max_output_depth: int | None = None
    """How many levels its output may nest; ``None``: the executor's (``tool_output_max_depth``).
    A deeper output is an error result (``bounds.py``)."""
    max_output_bytes: int | None = None
    """How large its output's JSON may be; ``None``: the executor's (``tool_output_max_bytes``).
    A larger output is truncated, with a note (``bounds.py``)."""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a tool needs a name")
        if not self.description.strip():
            raise ValueError(f"tool {self.name!r} needs a description: it is the model's prompt")
        if self.timeout_s <= 0:
            raise ValueError(f"tool {self.name!r}: timeout_s must be positive")
        depth = self.max_output_depth
        if depth is not None and not 1 <= depth <= OUTPUT_DEPTH_CEILING:
            raise ValueError(
                f"tool {self.name!r}: max_output_depth must be between 1 and "
                f"{OUTPUT_DEPTH_CEILING}, or None for the configured default"
            )
        if self.max_output_bytes is not None and self.max_output_bytes < 1:
            raise ValueError(f"tool {self.name!r}: max_output_bytes must be positive, or None")

    @property
    def spec(self) -> ToolSpec:
        """The name, description and JSON schema a model is given."""
        return ToolSpec(self.name, self.description, self.input_schema)

    def validate(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments as the tool receives them (defaults filled in); raises
        ``InvalidArguments``, also for a number that is NaN or infinite (``arguments.py``)."""
        if not isinstance(arguments, Mapping):
            raise InvalidArguments(
                f"arguments must be a JSON object of named values, got {type(arguments).__name__}"
            )
        where = non_finite(arguments)
        validated = self.validator(dict(arguments)) if where is None else {}
        where = where or non_finite(validated)
        if where is not None:
            raise InvalidArguments(f"{where}: a number must be finite, not NaN or infinity")
        return validated

    def invalid_arguments(self, arguments: Mapping[str, Any]) -> str | None:
        """Why ``arguments`` would be refused, or ``None`` when they are valid."""
        try:
            self.validate(arguments)
        except InvalidArguments as exc:
            return str(exc)
        return None

    def renamed(self, name: str, description: str | None = None) -> Tool:
        """The same tool under another name (and optionally description)."""
        return dataclasses.replace(self, name=name, description=description or self.description)

    @classmethod
    def from_schema(
        cls,
        name: str,
        description: str,
        input_schema: Mapping[str, Any],
        function: Callable[..., Any],
        **options: Any,
    ) -> Tool:
        """A tool described by a JSON schema; ``function(arguments)`` or
        ``function(ctx, arguments)`` runs it (sync functions in a worker thread).

        ``options`` are the other fields: ``risk``, ``idempotent``, ``timeout_s``...
        """
        from jsonschema.exceptions import SchemaError

        from agentlab.tools.patterns import SchemaValidator

        schema = dict(input_schema)
        try:
            SchemaValidator.check_schema(schema)
        except SchemaError as exc:
            raise ValueError(f"tool {name!r}: its input schema is invalid: {exc.message}") from None
        checker = SchemaValidator(schema)

        def fits(subschema: Mapping[str, Any], value: Any) -> bool:
            return bool(checker.evolve(schema=subschema).is_valid(value))

        def validate(arguments: dict[str, Any]) -> dict[str, Any]:
            arguments = with_defaults(arguments, schema, fits)
            errors = sorted(checker.iter_errors(arguments), key=lambda e: list(e.path))
            if errors:
                raise InvalidArguments(
                    "; ".join(
                        f"{'.'.join(str(p) for p in e.path) or 'arguments'}: {e.message}"
                        for e in errors
                    )
                )
            return arguments

        wants_context = _takes_context(function, positional=2)

        async def handle(ctx: ToolContext, arguments: dict[str, Any]) -> Any:
            args = (ctx, arguments) if wants_context else (arguments,)
            return await _call(function, *args)

        options.setdefault("source", _where(function))
        return cls(name, description, schema, handle, validate, **options)


def tool(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    risk: Risk = Risk.READ,
    idempotent: bool | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    requires_confirmation: bool = False,
    cost_usd: float = 0.0,
    egress: bool = False,
    max_output_depth: int | None = None,
    max_output_bytes: int | None = None,
) -> Any:
    """Declare a tool from a typed function: ``@tool`` or ``@tool(risk=Risk.WRITE, ...)``.

    The schema comes from the type hints, the description from the docstring. A first parameter
    typed ``ToolContext`` receives the call's context. Read tools are idempotent unless told
    otherwise; others are not. Sync functions run in a worker thread. ``max_output_depth`` and
    ``max_output_bytes`` override the configured bounds of its output (``bounds.py``).
    """

    def wrap(f: Callable[..., Any]) -> Tool:
        tool_name = name or f.__name__
        description = inspect.cleandoc(f.__doc__ or "").strip()
        if not description:
            raise ValueError(f"tool {tool_name!r} needs a docstring: it is the model's prompt")
        wants_context, model = _arguments_model(f, tool_name)
        schema = model.model_json_schema()
        schema.pop("title", None)

        def validate(arguments: dict[str, Any]) -> dict[str, Any]:
            try:
                parsed = model.model_validate(arguments)
            except ValidationError as exc:
                raise InvalidArguments(format_validation_error(exc)) from None
            return {k: getattr(parsed, k) for k in type(parsed).model_fields}

        # The handler receives the arguments as JSON data; parameters of other Python types
        # (enums, dates, models) get their values back from it, validated by the same model.
        bind = None if _json_native(model) else validate

        async def handle(ctx: ToolContext, arguments: dict[str, Any]) -> Any:
            values = arguments if bind is None else bind(arguments)
            if wants_context:
                return await _call(f, ctx, **values)
            return await _call(f, **values)

        return Tool(
            tool_name,
            description,
            schema,
            handle,
            validate,
            risk=risk,
            idempotent=(risk is Risk.READ) if idempotent is None else idempotent,
            timeout_s=timeout_s,
            requires_confirmation=requires_confirmation,
            cost_usd=cost_usd,
            egress=egress,
            source=_where(f),
            max_output_depth=max_output_depth,
            max_output_bytes=max_output_bytes,
        )

    return wrap(fn) if fn is not None else wrap


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem, in the words a model (or a person) can act on."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "arguments"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


_JSON_SCALARS = (str, int, float, bool, type(None))


def _json_native(model: type[BaseModel]) -> bool:
    """Whether every field of ``model`` takes JSON data as it is (strings, numbers, booleans,
    literals, lists and string-keyed dicts of those): then its validated values are their JSON."""
    return all(_native(f.annotation) for f in model.model_fields.values())


def _native(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is None:
        return annotation in _JSON_SCALARS or annotation is Any
    args = get_args(annotation)
    if origin is Literal:
        return all(isinstance(a, _JSON_SCALARS) for a in args)
    if origin is Annotated:
        return _native(args[0])
    if origin in (Union, UnionType):
        return all(_native(a) for a in args)
    if origin is list:
        return all(_native(a) for a in args)
    if origin is dict:
        return len(args) == 2 and args[0] is str and _native(args[1])
    return False


def _where(function: Callable[..., Any]) -> str:
    """Where ``function`` is written: its file and first line (``/path/to/tools.py:12``), which
    a file loaded by path (whose module is named by agentlab) does not hide; else its module and
    name (a builtin, a callable object)."""
    try:
        target = inspect.unwrap(function)
        path = inspect.getsourcefile(target)
        line = target.__code__.co_firstlineno
    except (TypeError, AttributeError, ValueError):
        path = None
    if path is not None:
        return f"{Path(path).resolve()}:{line}"
    module = getattr(function, "__module__", None) or "?"
    name = getattr(function, "__qualname__", None) or type(function).__name__
    return f"{module}:{name}"


async def _call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Await a coroutine function; run a plain one in a worker thread, off the event loop."""
    if inspect.iscoroutinefunction(function):
        return await function(*args, **kwargs)
    return await asyncio.to_thread(function, *args, **kwargs)


def _takes_context(function: Callable[..., Any], *, positional: int) -> bool:
    """Whether ``function`` requires ``positional`` positional arguments (context first)."""
    try:
        params = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in params if p.kind in kinds and p.default is inspect.Parameter.empty]
    return len(required) >= positional


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
        f"{name}_arguments", __config__=ConfigDict(extra="forbid", allow_inf_nan=False), **fields
    )
    return wants_context, model
