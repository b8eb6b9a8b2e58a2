"""Bounded tool outputs: what a tool returns is checked before it reaches the run's state, the
journal, events or a span, so no output can crash the checkpoint serializer or flood the model.

An output is measured in one iterative walk (no recursion, so 100,000 levels cost no stack):

* **too deep** (containers nested more than ``max_depth`` levels; a cycle, which nests without
  end, is told apart): an error outcome the model sees; the run goes on.
* **not storable** (an object a checkpoint cannot hold, an integer beyond 64 bits, a dict key
  that is not a string or a number): an error outcome naming the type.
* **too large** (its JSON estimated at more than ``max_bytes``): kept, truncated, with a note
  saying so, "… [truncated: 5 MB output, limit 1 MB]". A string keeps its first ``max_bytes``
  bytes; a structure becomes the first ``max_bytes`` bytes of its JSON text (a string), so the
  model still reads its beginning.

Defaults are 64 levels and 1 MB; ``Settings.tool_output_max_depth`` / ``tool_output_max_bytes``
change them for every tool, ``@tool(max_output_depth=..., max_output_bytes=...)`` for one.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import ipaddress
import json
import logging
import pathlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from agentlab.tools.tool import OUTPUT_DEPTH_CEILING, Tool, ToolOutcome

log = logging.getLogger(__name__)

DEFAULT_MAX_DEPTH = 64
DEFAULT_MAX_BYTES = 1_000_000

# Estimated JSON bytes of each scalar: an estimate only needs to tell 1 MB from 3 MB.
_SCALAR_BYTES: dict[type, int] = {int: 8, float: 8, bool: 5, type(None): 4}
_KEY_TYPES = (str, int, float, bool, type(None))
# Values a checkpoint stores as they are (LangGraph's serializer knows them): leaves.
_LEAVES = (
    bytes,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    decimal.Decimal,
    enum.Enum,
    pathlib.PurePath,
    uuid.UUID,
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
)
_MSGPACK_INT = (-(1 << 63), 1 << 64)  # what a checkpoint can store of an int
# Past this many times the limit, the walk stops counting (a shared sub-list repeated 2**60
# times would otherwise take forever to measure).
_MEASURE_FACTOR = 100


@dataclass(frozen=True, slots=True)
class OutputBounds:
    """How deep and how large a tool output may be; a tool's own ``max_output_depth`` /
    ``max_output_bytes`` override these."""

    max_depth: int = DEFAULT_MAX_DEPTH
    max_bytes: int = DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        if not 1 <= self.max_depth <= OUTPUT_DEPTH_CEILING:
            raise ValueError(
                f"max_depth must be between 1 and {OUTPUT_DEPTH_CEILING}, got {self.max_depth}"
            )
        if self.max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, got {self.max_bytes}")

    def bound(self, tool: Tool, outcome: ToolOutcome) -> ToolOutcome:
        """``outcome`` as the run may keep it: unchanged when its output is within bounds (the
        usual case, a few microseconds), else an error outcome or a truncated output (see the
        module's docstring)."""
        if not outcome["ok"]:
            return outcome
        max_depth = tool.max_output_depth or self.max_depth
        max_bytes = tool.max_output_bytes or self.max_bytes
        output = outcome["output"]
        problem, size = _measure(output, max_depth, max_bytes * _MEASURE_FACTOR)
        if problem is None and size <= max_bytes:
            return outcome
        if problem is not None:
            log.warning("tool %s: its output %s", tool.name, problem)
            return ToolOutcome(ok=False, output=None, error=f"the output of {tool.name} {problem}")
        stop_at = max_bytes * _MEASURE_FACTOR
        measured = _size(size) if size <= stop_at else f"over {_size(stop_at)}"
        log.warning("the output of tool %s was truncated (%s)", tool.name, measured)
        return ToolOutcome(ok=True, output=_truncated(output, measured, max_bytes), error=None)


def _measure(output: Any, max_depth: int, stop_at: int) -> tuple[str | None, int]:
    """What is wrong with ``output`` (a sentence ending the error message) or ``None``, and its
    estimated JSON size in bytes (counted up to a little past ``stop_at``)."""
    size = 0
    stack: list[tuple[Any, int]] = [(output, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        value, depth = pop()
        kind = type(value)
        if kind is str:
            size += _str_bytes(value) + 2
        elif kind is dict or kind is list or kind is tuple:
            if depth > max_depth:
                return _too_deep(output, max_depth), size
            # Plain ASCII strings, the bulk of most outputs, are counted here, not stacked.
            if kind is dict:
                size += 2
                for key, item in value.items():
                    if type(key) is str:
                        size += len(key) + 4  # quotes, colon, comma
                    elif isinstance(key, _KEY_TYPES):
                        size += 12
                    else:
                        return _unstorable(key, "as a dict key"), size
                    if type(item) is str and item.isascii():
                        size += len(item) + 2
                    else:
                        push((item, depth + 1))
            else:
                size += 2 + len(value)
                for item in value:
                    if type(item) is str and item.isascii():
                        size += len(item) + 2
                    else:
                        push((item, depth + 1))
        elif kind is int:
            if not _MSGPACK_INT[0] <= value < _MSGPACK_INT[1]:
                return "holds an integer beyond 64 bits, which a run cannot store; it was " + (
                    "dropped: return such numbers as strings"
                ), size
            size += 8
        elif kind in _SCALAR_BYTES:
            size += _SCALAR_BYTES[kind]
        else:
            children = _unusual(value)
            if children is None:
                return _unstorable(value, "in it"), size
            if isinstance(children, int):
                size += children
            else:
                if depth > max_depth:
                    return _too_deep(output, max_depth), size
                size += 2
                for item in children:
                    push((item, depth + 1))
        if size > stop_at:
            break
    return None, size


def _unusual(value: Any) -> int | Iterable[Any] | None:
    """For a value that is not plain JSON data: its size (a leaf), what it holds (a container),
    or ``None`` when a run cannot store it."""
    if isinstance(value, str):  # a str enum...
        return _str_bytes(value) + 2
    if isinstance(value, bool | int | float):
        return 8
    if isinstance(value, _LEAVES):
        return len(value) if isinstance(value, bytes) else 40
    if isinstance(value, Mapping):
        return [*value.keys(), *value.values()]
    if isinstance(value, list | tuple | set | frozenset):
        return value
    if isinstance(value, BaseModel):
        return [*vars(value).values(), *(value.__pydantic_extra__ or {}).values()]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [getattr(value, f.name) for f in dataclasses.fields(value)]
    return None


def _str_bytes(text: str) -> int:
    # isascii() is free (a flag of the string); only other text is encoded to be counted.
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _too_deep(output: Any, max_depth: int) -> str:
    if _has_cycle(output, max_depth + 1):
        return "refers to itself (a cycle), so it cannot be stored; it was dropped"
    return (
        f"nests more than {max_depth} levels, the limit for tool outputs; it was dropped: ask "
        "for a smaller or flatter result"
    )


def _has_cycle(output: Any, levels: int) -> bool:
    """Whether a container holds itself within ``levels`` levels: a walk keeping its path."""
    path: list[int] = []
    on_path: set[int] = set()
    iterators: list[Any] = [iter((output,))]
    while iterators:
        value = next(iterators[-1], _END)
        if value is _END:
            iterators.pop()
            if path:
                on_path.discard(path.pop())
            continue
        children = value.values() if isinstance(value, Mapping) else _unusual(value)
        if children is None or isinstance(children, int):
            continue
        if id(value) in on_path:
            return True
        if len(path) < levels:
            path.append(id(value))
            on_path.add(id(value))
            iterators.append(iter(children))
    return False


_END = object()


def _unstorable(value: Any, where: str) -> str:
    kind = type(value)
    return (
        f"holds a {kind.__module__}.{kind.__qualname__} {where}, which a run cannot store; it "
        "was dropped (a tool returns JSON data: dicts, lists, strings, numbers, booleans, null)"
    )


def _truncated(output: Any, measured: str, max_bytes: int) -> str:
    """The first ``max_bytes`` bytes of ``output`` (a string) or of its JSON text, and a note."""
    if isinstance(output, str):
        text = output
    else:  # encoded lazily, only as far as the limit: the rest is never made
        chunks, length = [], 0
        encoder = json.JSONEncoder(default=str, ensure_ascii=False)
        try:
            for chunk in encoder.iterencode(output):
                chunks.append(chunk)
                length += len(chunk)
                if length > max_bytes:
                    break
        except (RecursionError, ValueError, TypeError):
            # Past what was measured (over 100 times the limit), something could not be encoded.
            pass
        text = "".join(chunks)
    head = text.encode("utf-8", "surrogatepass")[:max_bytes].decode("utf-8", "ignore")
    return f"{head}… [truncated: {measured} output, limit {_size(max_bytes)}]"


def _size(n: int) -> str:
    """``n`` bytes for a person: 512 bytes, 40 kB, 3.2 MB."""
    if n < 1000:
        return f"{n} bytes"
    if n < 1_000_000:
        return f"{n / 1000:.3g} kB"
    return f"{n / 1_000_000:.3g} MB"
