"""Task sets: the cases an eval runs, read from YAML or JSONL and validated.

A set names its agent and lists cases. A case is what a person would do with the agent (one
message, or a conversation of several), who does it (the principal), the state the agent starts
from (fixtures), what the person answers at each pause, what the model says offline (a script),
and the checks its outcome and trajectory must pass. A mistake in a set is an ``EvalSetError``
naming the file, the case and the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agentlab.errors import AgentlabError

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


class EvalSetError(AgentlabError):
    """A task set (or a results directory) that cannot be read as it is: what and where."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScriptVariant(_Strict):
    """One of several scripts a turn may replay, drawn with ``weight`` (a noisy model)."""

    weight: float = Field(default=1.0, gt=0)
    script: str | dict[str, Any]


class ScriptChoice(_Strict):
    """Scripts drawn per trial (seeded by the eval's seed, the case, the trial and the turn)."""

    variants: list[ScriptVariant] = Field(min_length=1)


ScriptRef = str | dict[str, Any] | ScriptChoice
"""A script file (relative to the set's file), a script inline, or weighted variants."""


class DecisionSpec(_Strict):
    """What the person answers at a pause: approve (optionally with edited arguments), reject
    (the run re-plans without the call), stop, or say a call of unknown effect happened."""

    answer: Literal["approve", "reject", "stop", "happened"]
    arguments: dict[str, Any] | None = None
    note: str = ""
    result: Any = None


class Turn(_Strict):
    """One message of the case's conversation, with its script and its decisions."""

    message: str = Field(min_length=1)
    script: ScriptRef | None = None
    decisions: list[DecisionSpec] = Field(default_factory=list)

    @field_validator("decisions", mode="before")
    @classmethod
    def _short_decisions(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"answer": d} if isinstance(d, str) else d for d in value]
        return value


def _inside(name: str) -> str:
    """``name``, a path relative to the trial's data directory that stays inside it."""
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise ValueError(f"{name!r} must be a relative path inside the data directory")
    return name


def _limits(limits: dict[str, Any]) -> dict[str, Any]:
    """``limits`` if they are run limits (``Limits``' fields), else the error naming the first
    wrong one."""
    from agentlab.orchestration.limits import Limits

    Limits.model_validate(limits)
    return limits


class SqlFixture(_Strict):
    """Statements run on a SQLite file of the case's data directory after the agent's own
    setup (its ``deps``) created it."""

    file: str = Field(min_length=1)
    sql: list[str] = Field(min_length=1)

    _file = field_validator("file")(classmethod(lambda cls, v: _inside(v)))


class Fact(_Strict):
    key: str = Field(min_length=1)
    value: str = Field(min_length=1)


class PriorTurn(_Strict):
    """A turn of the conversation before the case: what the user said, what the agent replied."""

    message: str = Field(min_length=1)
    reply: str = Field(min_length=1)


class Fixtures(_Strict):
    """The state a case starts from, in its own data directory."""

    sqlite: list[SqlFixture] = Field(default_factory=list)
    files: dict[str, str] = Field(default_factory=dict)
    """Files written under the data directory (path relative to it: content)."""
    facts: list[Fact] = Field(default_factory=list)
    """What the agent knows about the principal (long-term memory's facts)."""
    memories: list[str] = Field(default_factory=list)
    """Past interactions with the principal (long-term memory's episodes)."""
    conversation: list[PriorTurn] = Field(default_factory=list)
    """Earlier turns of the session the case's messages continue (a prior session)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """The run options the agent's ``deps`` get."""

    @field_validator("files")
    @classmethod
    def _inside(cls, files: dict[str, str]) -> dict[str, str]:
        for name in files:
            _inside(name)
        return files


class ReplyCheck(_Strict):
    contains: list[str] = Field(default_factory=list)
    not_contains: list[str] = Field(default_factory=list)
    matches: str | None = None
    equals: str | None = None
    case_sensitive: bool = False

    @field_validator("contains", "not_contains", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("matches")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value


class JudgedCheck(_Strict):
    """The reply graded by the judge model against a rubric."""

    name: str = Field(default="judged", min_length=1)
    rubric: str = Field(min_length=1)


class QueryCheck(_Strict):
    """A query on a SQLite file of the case's data directory and the rows it must return."""

    name: str | None = None
    file: str = Field(min_length=1)
    query: str = Field(min_length=1)
    rows: list[list[Any]]

    _file = field_validator("file")(classmethod(lambda cls, v: _inside(v)))


class TrajectoryCheck(_Strict):
    mode: Literal["strict", "unordered", "subset", "superset"] = "superset"
    calls: list[dict[str, Any]] = Field(default_factory=list)


class Budgets(_Strict):
    max_cost_usd: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, ge=0)
    max_iterations: int | None = Field(default=None, ge=0)
    max_latency_s: float | None = Field(default=None, gt=0)
    max_approvals: int | None = Field(default=None, ge=0)


STATUSES = ("completed", "failed", "stopped", "waiting")


class Checks(_Strict):
    """What a trial must show to pass: every check given here."""

    status: Literal["completed", "failed", "stopped", "waiting"] | None = None
    reason: str | None = None
    """A substring of the run's outcome (why it failed or stopped)."""
    reply: ReplyCheck | None = None
    judged: list[JudgedCheck] = Field(default_factory=list)
    database: list[QueryCheck] = Field(default_factory=list)
    tools: TrajectoryCheck | None = None
    not_called: list[str] = Field(default_factory=list)
    approvals: int | None = Field(default=None, ge=0)
    """Exactly this many pauses for a person over the case."""
    budgets: Budgets | None = None

    @model_validator(mode="after")
    def _trajectory(self) -> Checks:
        if self.tools is not None:
            from agentlab.evals.trajectory import parse_expected

            for i, call in enumerate(self.tools.calls):
                try:
                    parse_expected(call)
                except ValueError as exc:
                    raise ValueError(f"tools.calls.{i}: {exc}") from None
        if not any(getattr(self, name) not in (None, []) for name in type(self).model_fields):
            raise ValueError("a case needs at least one check: it passes when all of them pass")
        return self


class Case(_Strict):
    id: str
    description: str = ""
    principal: str | None = None
    turns: list[Turn] = Field(min_length=1)
    fixtures: Fixtures = Field(default_factory=lambda: Fixtures())
    checks: Checks
    limits: dict[str, Any] = Field(default_factory=dict)
    _limits = field_validator("limits")(classmethod(lambda cls, v: _limits(v)))
    memory: bool | None = None
    """Long-term memory (and the knowledge base) on or off for this case; default: as
    configured."""
    tags: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _one_turn(cls, data: Any) -> Any:
        """``message`` (+ ``script``, ``decisions``) is a case of one turn."""
        if isinstance(data, dict) and "message" in data:
            data = dict(data)
            if "turns" in data:
                raise ValueError("give either 'message' (one turn) or 'turns', not both")
            turn = {"message": data.pop("message")}
            for key in ("script", "decisions"):
                if key in data:
                    turn[key] = data.pop(key)
            data["turns"] = [turn]
        return data

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.fullmatch(value):
            raise ValueError(
                "a case id is letters, digits, '.', '_' or '-' (up to 80, no spaces): it names "
                "files and rows"
            )
        return value


class TaskSet(_Strict):
    version: int = Field(default=1, ge=1, le=1)
    name: str = Field(min_length=1)
    description: str = ""
    agent: str | None = None
    principal: str = "eval"
    limits: dict[str, Any] = Field(default_factory=dict)
    _limits = field_validator("limits")(classmethod(lambda cls, v: _limits(v)))
    judge_script: str | None = None
    """The judge's script offline (relative to the set's file): its verdicts, in the order the
    eval asks for them (an output judged before is answered from the cache)."""
    cases: list[Case] = Field(min_length=1)
    path: Path | None = Field(default=None, exclude=True)
    """The file the set was read from (scripts are found relative to it)."""

    @model_validator(mode="after")
    def _unique(self) -> TaskSet:
        seen: set[str] = set()
        for case in self.cases:
            if case.id in seen:
                raise ValueError(f"case id {case.id!r} is used twice: ids must be unique")
            seen.add(case.id)
        return self

    def case(self, case_id: str) -> Case:
        for case in self.cases:
            if case.id == case_id:
                return case
        raise EvalSetError(f"{self.name} has no case {case_id!r}")

    @property
    def base(self) -> Path:
        """Where relative paths of the set are resolved from."""
        return self.path.parent if self.path is not None else Path.cwd()


def load_task_set(path: str | Path) -> TaskSet:
    """Read a task set: YAML (a mapping with ``cases``), or JSONL (one case per line; the set's
    name is the file's stem; a first line with ``"set": {...}`` gives its other fields)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EvalSetError(f"task set not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalSetError(f"cannot read task set {path}: {exc}") from None
    data = _jsonl(text, path) if path.suffix == ".jsonl" else _yaml(text, path)
    if not isinstance(data, dict):
        raise EvalSetError(f"{path}: a task set is a mapping with 'name' and 'cases'")
    data.setdefault("name", path.stem)
    try:
        task_set = TaskSet.model_validate(data)
    except ValidationError as exc:
        raise EvalSetError(_explain(path, data, exc)) from None
    return task_set.model_copy(update={"path": path.resolve()})


def _yaml(text: str, path: Path) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise EvalSetError(f"{path} is not valid YAML{where}: fix its syntax") from None


def _jsonl(text: str, path: Path) -> dict[str, Any]:
    head: dict[str, Any] = {}
    cases: list[Any] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalSetError(f"{path}, line {number}: not JSON ({exc.msg})") from None
        if isinstance(item, dict) and set(item) == {"set"} and isinstance(item["set"], dict):
            head = dict(item["set"])
        else:
            cases.append(item)
    return {**head, "cases": cases}


def _explain(path: Path, data: Mapping[str, Any], exc: ValidationError) -> str:
    first = exc.errors()[0]
    loc = list(first["loc"])
    where = ""
    if len(loc) >= 2 and loc[0] == "cases" and isinstance(loc[1], int):
        cases = data.get("cases") or []
        raw = cases[loc[1]] if loc[1] < len(cases) else None
        name = raw.get("id") if isinstance(raw, dict) else None
        where = f"case {name!r}" if name else f"case #{loc[1] + 1}"
        loc = loc[2:]
    field = ".".join(str(p) for p in loc) or "(the case itself)"
    message = str(first["msg"]).removeprefix("Value error, ")
    more = f" ({exc.error_count()} problems in all)" if exc.error_count() > 1 else ""
    prefix = f"{path}: {where}, " if where else f"{path}: "
    return f"{prefix}field {field}: {message}{more}"


__all__ = [
    "STATUSES",
    "Case",
    "Checks",
    "DecisionSpec",
    "EvalSetError",
    "Fixtures",
    "ScriptChoice",
    "TaskSet",
    "Turn",
    "load_task_set",
]
