"""Authorization policy as data: a YAML file of rules, per tool, argument condition and principal.

::

    default: allow                  # when no rule matches
    cost_threshold_usd: 1.0         # steps estimated above this ask (optional)
    egress: [send_*, "upload_*"]    # tools that send data out (see the executor: untrusted content)
    rules:
      - tool: send_notification
        when: {channel: sms}
        verdict: ask
        reason: an SMS reaches a phone and costs money
      - tool: "*"
        when: {user_id: {longer_than: 10}}
        verdict: ask
        reason: messages to more than 10 customers need a human
      - tool: "delete_*"
        principal: support-bot
        verdict: deny
        reason: bots never delete customers
      - tool: refund_order
        verdict: ask
        reason: refunds are checked by the billing team
        approvers: [carol, dave]     # only they may approve (anyone may reject)
    destructive_self_approval: false  # a run's own principal never approves its destructive calls

Every rule that matches a call applies and the strictest verdict wins (deny, then ask, then allow),
so the order of rules never matters. Whatever the rules say, destructive tools (as ``tools:``
below leaves them) and steps, and tools that require confirmation, ask at least. A condition is a
value (equality) or a mapping of tests: ``equals``, ``in``, ``not_in``, ``greater_than``,
``less_than``, ``longer_than``, ``shorter_than`` (lengths of strings and lists), ``matches`` (a
regular expression, searched), ``exact`` (``conditions.py``: strings are compared normalised
unless ``exact: true``). Conditions judge the arguments the tool runs with (validated, defaults
filled in); a rule with a condition on an argument the call lacks does not match. ``tool`` and
``principal`` are globs (or lists of globs). ``egress_values`` lists regular expressions of
argument values that are addresses (``egress.py``). A file that does not follow this shape is a
``PolicyFileError`` naming the file, the line and the problem.

``tools:`` gives tools (by name or glob) a risk (``read``, ``write``, ``destructive``), and says
whether they are ``idempotent`` (the journal may run them again after a crash) and ``egress``
(they send data out); a bare risk is short for ``{risk: ...}``::

    tools:
      "git_*": {risk: write, idempotent: false}
      git_status: read
      git_reset: {risk: destructive}
      "fs_*": {egress: true}

A tool's own entry (its exact name) wins over the globs that match it, for what it says; where
only globs speak, the strictest value of each field wins (destructive over write over read, not
idempotent, egress), so the order never matters. ``egress:`` is a glob entry ``{egress: true}``
for each of its globs. What the file leaves unsaid keeps the tool's own value. The executor
hands out tools as the file describes them, so the planner's catalog, the destructive floor, the
untrusted-content rule and the journal all see the same risk.

Raising is always allowed; lowering depends on whose word it replaces. An MCP tool's risk,
idempotency and egress are its server's annotations, which the MCP spec calls hints: claims of a
process the agent's owner does not control. The policy owner's word replaces them, in both
directions (``git_status: read`` for a server that gave no hints). A local tool's are the word of
its author, declared beside the code that does the deed and reviewed with it; a file that could
call ``delete_customer`` ``read`` would lift, from a YAML line far from that code, the destructive
floor the code relies on. So for local tools the stricter of the declaration and the file wins,
and ``agentlab policy check`` shows where the file's word did not lower a declaration.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
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

from agentlab.errors import ConfigError
from agentlab.tools.arguments import non_finite
from agentlab.tools.conditions import Condition
from agentlab.tools.mcp import from_hints
from agentlab.tools.normalise import pattern
from agentlab.tools.policy import PolicyDecision, ProposedCall, Verdict
from agentlab.tools.tool import Risk, Tool, format_validation_error

_STRICTNESS = {Verdict.ALLOW: 0, Verdict.ASK: 1, Verdict.DENY: 2}
_RISKINESS = {Risk.READ: 0, Risk.WRITE: 1, Risk.DESTRUCTIVE: 2}


class PolicyFileError(ConfigError):
    """A policy file that cannot be read or does not follow the policy's shape."""


class Rule(BaseModel):
    """Calls of ``tool`` by ``principal`` whose arguments meet ``when`` get ``verdict``."""

    model_config = ConfigDict(extra="forbid")

    tool: str | list[str] = "*"
    principal: str | list[str] = "*"
    when: dict[str, Condition] = Field(default_factory=dict)
    verdict: Verdict
    reason: str = Field(min_length=1)
    approvers: list[str] | None = None
    """Who may approve the calls this rule asks about (principals or OS users)."""

    @field_validator("when", mode="before")
    @classmethod
    def _values_are_equality(cls, when: Any) -> Any:
        if not isinstance(when, Mapping):
            return when
        return {k: v if isinstance(v, Mapping) else {"equals": v} for k, v in when.items()}

    def covers(self, tool: str, principal: str) -> bool:
        return _globbed(self.tool, tool) and _globbed(self.principal, principal)

    def matches(self, call: ProposedCall) -> bool:
        if not self.covers(call.tool.name, call.principal):
            return False
        restricting = self.verdict is not Verdict.ALLOW
        return all(
            name in call.arguments
            and condition.holds(call.arguments[name], restricting=restricting)
            for name, condition in self.when.items()
        )

    def describe(self, *, subject: bool = True) -> str:
        """``deny delete_* for support-bot when ...`` (without tool and principal: not
        ``subject``)."""
        tools = self.tool if isinstance(self.tool, str) else ", ".join(self.tool)
        who = self.principal if isinstance(self.principal, str) else ", ".join(self.principal)
        text = f"{self.verdict.value} {tools}" if subject else self.verdict.value
        if who != "*" and subject:
            text += f" for {who}"
        if self.when:
            text += " when " + " and ".join(f"{k} {c.describe()}" for k, c in self.when.items())
        return text


class ToolEffects(BaseModel):
    """What the file says a tool does: its risk, whether it is idempotent, whether it sends data
    out; ``None`` where it says nothing."""

    model_config = ConfigDict(extra="forbid")

    risk: Risk | None = None
    idempotent: bool | None = None
    egress: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _a_risk_alone(cls, data: Any) -> Any:
        return {"risk": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _says_something(self) -> ToolEffects:
        if self.risk is None and self.idempotent is None and self.egress is None:
            raise ValueError("give a risk (read, write, destructive), idempotent or egress")
        return self

    @classmethod
    def strictest(cls, said: Sequence[ToolEffects]) -> ToolEffects:
        """All of ``said`` at once: the riskiest risk, not idempotent and egress where any says
        so; all ``None`` where ``said`` is empty (built unvalidated: it may say nothing)."""
        risks = [s.risk for s in said if s.risk is not None]
        idempotent = [s.idempotent for s in said if s.idempotent is not None]
        egress = [s.egress for s in said if s.egress is not None]
        return cls.model_construct(
            risk=max(risks, key=_RISKINESS.__getitem__) if risks else None,
            idempotent=all(idempotent) if idempotent else None,
            egress=any(egress) if egress else None,
        )

    def describe(self) -> str:
        """``write, not idempotent, egress`` (what is said)."""
        parts = [self.risk.value] if self.risk is not None else []
        if self.idempotent is not None:
            parts.append("idempotent" if self.idempotent else "not idempotent")
        if self.egress is not None:
            parts.append("egress" if self.egress else "no egress")
        return ", ".join(parts)


class PolicyDocument(BaseModel):
    """A policy file's contents."""

    model_config = ConfigDict(extra="forbid")

    default: Verdict = Verdict.ALLOW
    cost_threshold_usd: float | None = Field(None, ge=0)
    egress: list[str] = Field(default_factory=list)
    """Globs of tools that send data out (besides those declared ``egress``)."""
    egress_values: list[str] = Field(default_factory=list)
    """Regular expressions of argument values that are addresses data may go to (searched in
    the normalised value): a call with one is egress, whatever its tool (``egress.py``)."""
    tools: dict[str, ToolEffects] = Field(default_factory=dict)
    """Globs of tools and what the file says they do, over their declarations or MCP hints."""
    rules: list[Rule] = Field(default_factory=list)
    destructive_self_approval: bool = True
    """Whether a run's own principal may approve its destructive calls."""

    @field_validator("egress_values")
    @classmethod
    def _regexes(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                pattern(value)
            except re.error as exc:
                raise ValueError(f"{value!r} is not a regular expression: {exc}") from None
        return values


@dataclass(frozen=True)
class RulesPolicy:
    """A ``Policy`` deciding by a ``PolicyDocument``; ``source`` names where it came from."""

    document: PolicyDocument
    source: str = "(inline)"

    def decide(self, call: ProposedCall) -> PolicyDecision:
        tool = self.adjust(call.tool)  # the file's word on the tool's risk, whoever asks
        verdicts: list[tuple[Verdict, str, str | None]] = []  # verdict, reason, rule
        for index, rule in enumerate(self.document.rules):
            if rule.matches(call):
                verdicts.append((rule.verdict, rule.reason, f"rules[{index}]: {rule.describe()}"))
        if not verdicts:
            verdicts.append((self.document.default, "", None))
        # Floors no file can lower.
        if non_finite(call.arguments) is not None:  # validation refuses these; never judged
            verdicts.append((Verdict.DENY, "a number that is NaN or infinite", None))
        if call.planned_destructive or tool.risk is Risk.DESTRUCTIVE:
            verdicts.append((Verdict.ASK, "destructive", None))
        if tool.requires_confirmation:
            verdicts.append((Verdict.ASK, "needs confirmation", None))
        cost = max(call.estimated_cost_usd, tool.cost_usd)
        threshold = self.document.cost_threshold_usd
        if threshold is not None and cost > threshold:
            verdicts.append((Verdict.ASK, f"estimated cost ${cost:.2f} > ${threshold:.2f}", None))
        verdict = max((v for v, _, _ in verdicts), key=_STRICTNESS.__getitem__)
        approvers = self._approvers(call) if verdict is Verdict.ASK else None
        destructive = call.planned_destructive or tool.risk is Risk.DESTRUCTIVE
        own = self.document.destructive_self_approval or not destructive
        winning = [(reason, rule) for v, reason, rule in verdicts if v is verdict]
        reasons = tuple(dict.fromkeys(reason for reason, _ in winning if reason))
        rules = [rule for _, rule in winning if rule]
        if verdict is Verdict.ALLOW:
            reasons = ()
        return PolicyDecision(
            verdict, reasons, rule="; ".join(rules) or None, approvers=approvers, self_approval=own
        )

    def _approvers(self, call: ProposedCall) -> tuple[str, ...] | None:
        """Who may approve ``call``: those every matching rule that names approvers names."""
        named = [r.approvers for r in self.document.rules if r.approvers and r.matches(call)]
        if not named:
            return None
        return tuple(a for a in named[0] if all(a in other for other in named[1:]))

    @property
    def egress_values(self) -> tuple[re.Pattern[str], ...]:
        """The file's patterns of argument values that make a call egress."""
        return tuple(pattern(p) for p in self.document.egress_values)

    def sends_data_out(self, tool: str) -> bool:
        """Whether the file flags ``tool`` as egress: after untrusted content it asks first."""
        return self.said_of(tool).egress is True

    def said_of(self, tool: str) -> ToolEffects:
        """What the file says of ``tool``: its own ``tools:`` entry over the strictest word of
        the globs that match it (``egress:`` included)."""
        entries = self.document.tools
        globs = [e for glob, e in entries.items() if glob != tool and _globbed(glob, tool)]
        if _globbed(self.document.egress, tool):
            globs.append(ToolEffects(egress=True))
        said = ToolEffects.strictest(globs)
        own = entries.get(tool)
        return said if own is None else said.model_copy(update=own.model_dump(exclude_none=True))

    def adjust(self, tool: Tool) -> Tool:
        """``tool`` with the risk, idempotency and egress the file gives it: in place of an MCP
        server's hints; never below a local tool's declaration (see the module's docstring)."""
        said = self.said_of(tool.name)
        risk, idempotent, egress = tool.risk, tool.idempotent, tool.egress
        if from_hints(tool):
            risk = said.risk if said.risk is not None else risk
            idempotent = said.idempotent if said.idempotent is not None else idempotent
            egress = said.egress if said.egress is not None else egress
        else:
            if said.risk is not None:
                risk = max(risk, said.risk, key=_RISKINESS.__getitem__)
            idempotent = idempotent and said.idempotent is not False
            egress = egress or said.egress is True
        if (risk, idempotent, egress) == (tool.risk, tool.idempotent, tool.egress):
            return tool
        return replace(tool, risk=risk, idempotent=idempotent, egress=egress)

    def rules_for(self, tool: str, principal: str) -> list[Rule]:
        """The rules that may apply to calls of ``tool`` by ``principal``."""
        return [r for r in self.document.rules if r.covers(tool, principal)]

    def principals(self) -> list[str]:
        """The principals the file names (not globs)."""
        names: dict[str, None] = {}
        for rule in self.document.rules:
            for who in [rule.principal] if isinstance(rule.principal, str) else rule.principal:
                if not any(ch in who for ch in "*?["):
                    names[who] = None
        return list(names)


def load_policy(path: str | Path) -> RulesPolicy:
    """The policy in the YAML file ``path``; a ``PolicyFileError`` names the line of a mistake."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyFileError(f"cannot read the policy file {path}: {exc.strerror}") from None
    return parse_policy(text, source=str(path))


def parse_policy(text: str, *, source: str = "(inline)") -> RulesPolicy:
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyFileError(f"policy file {source}{where}: not valid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise PolicyFileError(
            f"policy file {source}, line 1: expected a mapping (default, rules...), "
            f"got {type(data).__name__}"
        )
    try:
        document = PolicyDocument.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        line = _line_of(node, first["loc"])
        where = f", line {line}" if line else ""
        raise PolicyFileError(
            f"policy file {source}{where}: {format_validation_error(exc)}"
        ) from None
    return RulesPolicy(document, source)


def _globbed(patterns: str | Sequence[str], name: str) -> bool:
    patterns = [patterns] if isinstance(patterns, str) else patterns
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _line_of(node: Any, loc: Sequence[Any]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (or of its nearest parent that exists)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if k.value == key), None)
            if found is None:
                found = next((k for k, _ in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            found = node.value[key]
        else:
            found = None
        if found is None:
            break
        node, line = found, found.start_mark.line + 1
    return line
