"""Trajectory evals: the tool calls a run made, checked against the calls a case expects.

The four trajectory modes of LangChain's agentevals: ``strict`` (the same calls in the same
order), ``unordered`` (the same calls in any order), ``subset`` (the run did nothing outside the
reference, maybe less) and ``superset`` (the run did at least the reference, maybe more). Each
expected call says how its arguments are compared (``ArgumentMode``). Outside ``strict``, calls
are paired by a maximum bipartite matching: once an argument mode accepts several calls, a greedy
pairing can spend a call on the wrong expectation and fail a run that fits.

Every verdict carries a reason a person can read, naming calls as ``tool(k=v, ...)``.
"""

from __future__ import annotations

import operator
import re
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from agentlab.errors import AgentlabError
from agentlab.safe_text import visible

TrajectoryMode = Literal["strict", "unordered", "subset", "superset"]
ArgumentMode = Literal["exact", "ignore", "subset", "superset", "predicate"]
Predicate = Callable[[Mapping[str, Any]], bool]
"""A check of a call's whole argument mapping, for what the operators cannot say."""

_TRAJECTORY_MODES: tuple[str, ...] = get_args(TrajectoryMode)
_ARGUMENT_MODES: tuple[str, ...] = get_args(ArgumentMode)
_FIELDS = ("tool", "arguments", "arguments_mode")
_OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "matches", "contains", "exists")
_SYMBOLS = dict(eq="==", ne="!=", lt="<", le="<=", gt=">", ge=">=", not_in="not in")
"""How a reason writes an operator, when not by its name."""
_ORDER = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}
_CUT = 60
"""Characters of a value's repr shown in a reason before it is cut."""
_LISTED = 8
"""Items listed in a reason before the rest are only counted."""


class ExpectationError(AgentlabError, ValueError):
    """An expected call is malformed; the message names the field and what it accepts."""


@dataclass(frozen=True)
class Call:
    """A tool call a run made: the tool's name and the arguments it was called with."""

    tool: str
    arguments: Mapping[str, Any]

    def __str__(self) -> str:
        return _render(self.tool, [f"{k}={_short(v)}" for k, v in self.arguments.items()])


@dataclass(frozen=True)
class Expected:
    """A call a case expects: the tool, and how the run's arguments must compare to ``arguments``.

    ``arguments=None`` checks the tool only, whatever the mode. In ``predicate`` mode,
    ``arguments`` maps each argument name to operators (``{"amount": {"lt": 100}}``), checked
    here, when the expectation is made; a callable ``arguments`` is a predicate over the whole
    argument mapping, whatever ``mode`` says (``mode`` then reads ``"predicate"``).
    """

    tool: str
    arguments: Mapping[str, Any] | Predicate | None = None
    mode: ArgumentMode = "exact"

    def __post_init__(self) -> None:
        if callable(self.arguments):
            object.__setattr__(self, "mode", "predicate")
            return
        if self.mode not in _ARGUMENT_MODES:
            raise _unknown("mode", "argument mode", self.mode, _ARGUMENT_MODES)
        if self.arguments is not None and not (
            isinstance(self.arguments, Mapping) and all(isinstance(k, str) for k in self.arguments)
        ):
            raise ExpectationError(
                "arguments: needs a mapping of argument names (strings) to values, or a callable; "
                f"got {_short(self.arguments)}"
            )
        if self.mode == "predicate":
            if self.arguments is None:
                raise ExpectationError("arguments: predicate mode needs {name: {operator: value}}")
            for name, operators in self.arguments.items():
                _check_operators(name, operators)

    def __str__(self) -> str:
        spec = self.arguments
        if callable(spec):
            parts = [f"<predicate {_name(spec)}>"]
        elif spec is None or self.mode == "ignore":
            parts = ["..."]
        elif self.mode == "predicate":
            parts = [f"{k} {_describe(ops)}" for k, ops in spec.items()]
        else:
            parts = [f"{k}={_short(v)}" for k, v in spec.items()]
            parts += ["..."] if self.mode == "subset" else []
        return _render(self.tool, parts)


@dataclass(frozen=True)
class Match:
    """A verdict: whether the run's calls fit, and why (naming the calls), either way."""

    ok: bool
    reason: str


def arguments_match(expected: Expected, actual: Mapping[str, Any]) -> str | None:
    """``None`` when ``actual`` (a call's arguments) fits ``expected``, else what differs.

    Values compare as JSON does: ``1 == 1.0``, ``True != 1``, lists and mappings by their items.
    """
    spec = expected.arguments
    if callable(spec):
        return _call_predicate(spec, actual)
    if spec is None or expected.mode == "ignore":
        return None
    if expected.mode == "predicate":
        failed = [why for k, ops in spec.items() if (why := _check_argument(k, ops, actual))]
        return "; ".join(failed) or None
    problems: list[str] = []
    for name, value in spec.items():
        if name not in actual:
            if expected.mode != "superset":
                problems.append(f"{name}: missing (expected {_short(value)})")
        elif not _equal(value, actual[name]):
            problems.append(f"{name}: expected {_short(value)}, got {_short(actual[name])}")
    if expected.mode != "subset":
        problems += [
            f"{k}: not expected (got {_short(v)})" for k, v in actual.items() if k not in spec
        ]
    return "; ".join(problems) or None


def match_trajectory(
    actual: Sequence[Call], expected: Sequence[Expected], mode: TrajectoryMode = "strict"
) -> Match:
    """Whether the calls a run made (``actual``, in order) fit the ``expected`` ones in ``mode``."""
    if mode not in _TRAJECTORY_MODES:
        raise _unknown("mode", "trajectory mode", mode, _TRAJECTORY_MODES)
    if mode == "strict":
        return _strict(actual, expected)
    of_expected, of_actual = _matching(actual, expected)
    missing = [i for i, j in enumerate(of_expected) if j is None and mode != "subset"]
    extra = [j for j, i in enumerate(of_actual) if i is None and mode != "superset"]
    if not missing and not extra:
        made, wanted = _count(len(actual), "call"), _count(len(expected), "expected call")
        said = {
            "unordered": f"the {made} match the {wanted} in some order",
            "subset": f"each of the {made} matches its own of the {wanted}",
            "superset": f"each of the {wanted} was made, among {made}",
        }
        return Match(True, said[mode])
    problems = [_not_called(expected[i], actual, of_actual) for i in missing]
    problems += [_not_expected(j, actual[j], expected) for j in extra]
    return Match(False, f"{_listing(problems, '; ')}; {_calls_were(actual)}")


def none_called(actual: Sequence[Call], tools: Sequence[str]) -> Match:
    """Whether the run stayed away from every one of ``tools`` (by name)."""
    if isinstance(tools, str):
        raise TypeError(f"tools is a sequence of tool names, got the string {tools!r}")
    forbidden = set(tools)
    names = ", ".join(visible(t, lines=False) for t in tools)
    hits = [f"{call} (call {n})" for n, call in enumerate(actual, 1) if call.tool in forbidden]
    if hits:
        return Match(False, f"called {_listing(hits)}, though none of {names} may be called")
    return Match(True, f"none of {names} was called" if tools else "no tool is forbidden")


def parse_expected(data: Mapping[str, Any]) -> Expected:
    """An expected call from a case file: ``{"tool": ..., "arguments": {...},
    "arguments_mode": "subset"}`` (``arguments`` and ``arguments_mode`` optional, the mode
    ``exact`` by default). Bad input raises ``ExpectationError`` (a ``ValueError``) naming the
    field."""
    if not isinstance(data, Mapping):
        raise ExpectationError(
            f"an expected call is a mapping with {', '.join(_FIELDS)}; got {_short(data)}"
        )
    unknown = [k for k in data if k not in _FIELDS]
    if unknown:
        raise _unknown(str(unknown[0]), "field", unknown[0], _FIELDS)
    tool = data.get("tool")
    if not isinstance(tool, str) or not tool.strip():
        raise ExpectationError(f"tool: needs a tool name (a non-empty string), got {_short(tool)}")
    mode = data.get("arguments_mode", "exact")
    if mode not in _ARGUMENT_MODES:
        raise _unknown("arguments_mode", "argument mode", mode, _ARGUMENT_MODES)
    return Expected(tool, data.get("arguments"), mode)


def _strict(actual: Sequence[Call], expected: Sequence[Expected]) -> Match:
    first = None
    for n, (wanted, call) in enumerate(zip(expected, actual, strict=False), 1):
        why = arguments_match(wanted, call.arguments) if call.tool == wanted.tool else ""
        if why is not None:  # "": another tool, which says itself
            first = f"call {n}: expected {wanted}, got {call}" + (f" ({why})" if why else "")
            break
    if first is None and len(actual) == len(expected):
        return Match(True, f"the {_count(len(actual), 'call')} match the expected ones in order")
    problems = []
    if len(actual) != len(expected):
        problems.append(f"expected {_count(len(expected), 'call')}, the run made {len(actual)}")
    if first:
        problems.append(first)
    elif len(actual) > len(expected):
        problems.append(f"call {len(expected) + 1} {actual[len(expected)]} was not expected")
    else:
        problems.append(f"expected {expected[len(actual)]} was not called")
    return Match(False, f"{'; '.join(problems)}; {_calls_were(actual)}")


def _matching(
    actual: Sequence[Call], expected: Sequence[Expected]
) -> tuple[list[int | None], list[int | None]]:
    """A maximum matching of expected calls to distinct actual calls (Kuhn's augmenting paths,
    searched breadth first): for each, the index of its partner in the other list, or None."""
    fits = [[j for j, call in enumerate(actual) if _fits(wanted, call)] for wanted in expected]
    of_expected: list[int | None] = [None] * len(expected)
    of_actual: list[int | None] = [None] * len(actual)
    for start in range(len(expected)):
        came_from: dict[int, int] = {}  # an actual call -> the expected call that reached it
        queue, free = deque([start]), None
        while queue and free is None:
            i = queue.popleft()
            for j in fits[i]:
                if j in came_from:
                    continue
                came_from[j] = i
                holder = of_actual[j]
                if holder is None:
                    free = j
                    break
                queue.append(holder)
        # Flip the path: each expected call on it takes the call that reached it.
        while free is not None:
            i = came_from[free]
            taken, of_expected[i], of_actual[free] = of_expected[i], free, i
            free = taken
    return of_expected, of_actual


def _fits(expected: Expected, call: Call) -> bool:
    return call.tool == expected.tool and arguments_match(expected, call.arguments) is None


def _not_called(wanted: Expected, actual: Sequence[Call], of_actual: list[int | None]) -> str:
    same = sorted(
        (j for j, call in enumerate(actual) if call.tool == wanted.tool),
        key=lambda j: of_actual[j] is not None,  # an unpaired call is the likelier near miss
    )
    if any(_fits(wanted, actual[j]) for j in same):
        return f"expected {wanted} was called too few times (its calls fit other expected calls)"
    if same:
        why = arguments_match(wanted, actual[same[0]].arguments)
        return f"expected {wanted} was not called ({actual[same[0]]}: {why})"
    return f"expected {wanted} was not called"


def _not_expected(j: int, call: Call, expected: Sequence[Expected]) -> str:
    same = [wanted for wanted in expected if wanted.tool == call.tool]
    said = f"call {j + 1} {call} was not expected"
    if any(_fits(wanted, call) for wanted in same):
        return f"{said} (the expected calls it fits are taken by other calls)"
    if same:
        return f"{said} (against {same[0]}: {arguments_match(same[0], call.arguments)})"
    return said


def _equal(a: Any, b: Any) -> bool:
    """Equality as in JSON: numbers by value (1 == 1.0), booleans apart from numbers, lists and
    tuples alike, mappings by their keys and values."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _check_operators(name: str, operators: object) -> None:
    where = f"arguments.{name}"
    if not isinstance(operators, Mapping) or not operators:
        raise ExpectationError(f"{where}: needs {{operator: value}}, got {_short(operators)}")
    for op, operand in operators.items():
        if op not in _OPERATORS:
            raise _unknown(where, "operator", op, _OPERATORS)
        problem = _operand_problem(op, operand)
        if problem:
            raise ExpectationError(f"{where}.{op}: {problem}, got {_short(operand)}")


def _operand_problem(op: str, operand: Any) -> str | None:
    if op in ("in", "not_in") and not isinstance(operand, list | tuple | set | frozenset):
        return "needs a list of values"
    if op in _ORDER and (isinstance(operand, bool) or not isinstance(operand, int | float | str)):
        return "needs a number or a string"
    if op == "exists" and not isinstance(operand, bool):
        return "needs true or false"
    if op == "matches":
        if not isinstance(operand, str):
            return "needs a regular expression (a string)"
        try:
            re.compile(operand)
        except re.error as error:
            return f"is not a valid regular expression ({error})"
    return None


def _check_argument(
    name: str, operators: Mapping[str, Any], actual: Mapping[str, Any]
) -> str | None:
    if name not in actual:
        if operators.get("exists") is False:
            return None
        return f"{name}: missing (expected {_describe(operators)})"
    value = actual[name]
    failed = {op: operand for op, operand in operators.items() if not _holds(op, value, operand)}
    return f"{name}: expected {_describe(failed)}, got {_short(value)}" if failed else None


def _holds(op: str, value: Any, operand: Any) -> bool:
    """Whether a present argument's ``value`` passes one operator."""
    if op == "exists":
        return bool(operand)
    if op in ("eq", "ne"):
        return _equal(value, operand) == (op == "eq")
    if op in ("in", "not_in"):
        return any(_equal(value, o) for o in operand) == (op == "in")
    if op == "matches":
        return isinstance(value, str) and re.search(operand, value) is not None
    if op == "contains":
        if isinstance(value, str):
            return isinstance(operand, str) and operand in value
        return isinstance(value, list | tuple) and any(_equal(item, operand) for item in value)
    # Ordering: numbers with numbers, strings with strings; nothing is coerced.
    if isinstance(value, bool) or isinstance(value, str) != isinstance(operand, str):
        return False
    try:
        return bool(_ORDER[op](value, operand))
    except TypeError:
        return False


def _call_predicate(predicate: Predicate, actual: Mapping[str, Any]) -> str | None:
    try:
        passed = predicate(actual)
    except Exception as error:  # a predicate that cannot judge the call does not pass it
        return f"predicate {_name(predicate)} raised {_short(error)}"
    return None if passed else f"predicate {_name(predicate)} rejected the arguments"


def _describe(operators: Mapping[str, Any]) -> str:
    return " and ".join(
        ("present" if operand else "absent")
        if op == "exists"
        else f"{_SYMBOLS.get(op, op)} {_short(operand)}"
        for op, operand in operators.items()
    )


def _unknown(field: str, what: str, value: object, valid: Sequence[str]) -> ExpectationError:
    return ExpectationError(
        f"{field}: unknown {what} {_short(value)}; valid {what}s: {', '.join(valid)}"
    )


def _name(predicate: Predicate) -> str:
    return visible(getattr(predicate, "__name__", None) or _short(predicate), lines=False)


def _short(value: object) -> str:
    said = visible(repr(value), lines=False)
    return said if len(said) <= _CUT else f"{said[: _CUT - 3]}..."


def _render(tool: str, parts: Sequence[str]) -> str:
    return f"{visible(tool, lines=False)}({', '.join(parts)})"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _listing(items: Sequence[str], joint: str = ", ") -> str:
    more = len(items) - _LISTED
    return joint.join(items[:_LISTED]) + (f"{joint}... ({more} more)" if more > 0 else "")


def _calls_were(actual: Sequence[Call]) -> str:
    return f"calls were: {_listing([str(c) for c in actual])}" if actual else "no calls were made"
