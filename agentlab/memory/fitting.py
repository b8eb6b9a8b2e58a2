"""Working memory as the graph uses it: every model call's context fitted to its role's budget,
what a conversation keeps whole before its oldest turns are folded into its summary, and how
tokens are counted.

Counts are the estimate (``tokens.py``), except where the provider can count (Claude's
``count_tokens`` endpoint, when a key is set) and the count is reused: a role's stable prefix
(counted once per process) and a turn's messages (counted once, when the turn is stored). A
provider that cannot count just then leaves the estimate in place, with a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentlab.config import ContextBudgets
from agentlab.memory.conversation import ConversationTurn, Summary
from agentlab.memory.tokens import EstimatedTokens, TokenCounter
from agentlab.memory.working import assemble, prefix_tokens, with_context
from agentlab.models.base import ModelRequest, Role, TokenCounting, ToolSpec
from agentlab.models.messages import Message

log = logging.getLogger(__name__)

HISTORY_ROLES = frozenset({Role.PLANNER, Role.VALIDATOR, Role.RESPONDER})
"""The roles whose calls read the conversation (the executor fills in one step's arguments;
the summarizer is given the turns it folds)."""


@dataclass
class WorkingMemory:
    """The token budget of each role's calls (``[context]``), and how tokens are counted:
    ``counter`` (the estimate), and the provider's ``counts`` where it has them;
    ``slot_tokens`` caps the memory slot (long-term memory's share of a call's budget)."""

    budgets: ContextBudgets = field(default_factory=ContextBudgets)
    counter: TokenCounter = field(default_factory=EstimatedTokens)
    counts: TokenCounting | None = None
    slot_tokens: int | None = None
    _prefixes: dict[str, int] = field(default_factory=dict, repr=False)

    async def fit(self, request: ModelRequest, recalled: Mapping[str, Any] | None) -> ModelRequest:
        """``request`` with its context assembled under its role's budget: its system prompt and
        tools unchanged, then the conversation ``recalled`` (summary, recent turns: as many as
        fit, newest first) for the roles that read it, then the request's own message. Raises
        ``ContextOverflow`` when the request does not fit even alone."""
        *earlier, current = request.messages
        if earlier:  # prompts send one message; a request built otherwise is sent as it is
            return request
        turns: Sequence[ConversationTurn] = ()
        summary: Summary | None = None
        memory: Sequence[str] = ()
        if recalled and request.role in HISTORY_ROLES:
            turns, summary = recalled.get("turns") or (), recalled.get("summary")
            memory = recalled.get("memory") or ()
        context = assemble(
            budget=self.budgets.for_role(request.role.value),
            prefix_tokens=await self.prefix(request.system, request.tools),
            current=current,
            turns=turns,
            summary=summary,
            memory=memory,
            memory_tokens=self.slot_tokens,
            counter=self.counter,
            blocks=bool(request.tools),
        )
        return with_context(request, context)

    async def prefix(self, system: str, tools: Sequence[ToolSpec]) -> int:
        """The tokens of a stable prefix: the provider's count, once per prefix, else the
        estimate."""
        estimate = prefix_tokens(system, tools, self.counter)
        if self.counts is None:
            return estimate
        key = hashlib.sha256(
            json.dumps([system, [(t.name, t.description, t.input_schema) for t in tools]]).encode()
        ).hexdigest()
        if key not in self._prefixes:
            try:
                if "" not in self._prefixes:  # the shortest message alone, counted once
                    self._prefixes[""] = await self.counts.count("", (), ())
                alone = self._prefixes[""]
                self._prefixes[key] = await self.counts.count(system, tools, ()) - alone
            except Exception as exc:  # the provider cannot count now: estimate, and say so
                log.warning("the provider could not count a prompt's tokens (%s): estimated", exc)
                return estimate
        return self._prefixes[key]

    async def turn_tokens(self, messages: Sequence[Message]) -> int:
        """The tokens of a turn's messages: the provider's count, else the estimate."""
        if self.counts is not None:
            try:
                return await self.counts.count("", (), messages)
            except Exception as exc:
                log.warning("the provider could not count a turn's tokens (%s): estimated", exc)
        return self.counter.messages(messages)

    def to_fold(self, turns: Sequence[ConversationTurn]) -> list[ConversationTurn]:
        """The oldest of ``turns`` (oldest first) to fold into the summary: none while they fit
        ``recent_tokens``; past it, enough that the rest fit half of it (so a summary is written
        every few turns, not on every one)."""
        total = sum(t["tokens"] for t in turns)
        if total <= self.budgets.recent_tokens:
            return []
        keep = self.budgets.recent_tokens // 2
        folded: list[ConversationTurn] = []
        for turn in turns:
            if total <= keep:
                break
            folded.append(turn)
            total -= turn["tokens"]
        return folded
