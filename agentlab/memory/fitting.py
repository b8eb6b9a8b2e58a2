"""Working memory as the graph uses it: every model call's context fitted to its role's budget,
and what a conversation keeps whole before its oldest turns are folded into its summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentlab.config import ContextBudgets
from agentlab.memory.conversation import ConversationTurn, Summary
from agentlab.memory.tokens import EstimatedTokens, TokenCounter
from agentlab.memory.working import assemble, prefix_tokens, with_context
from agentlab.models.base import ModelRequest, Role

HISTORY_ROLES = frozenset({Role.PLANNER, Role.VALIDATOR, Role.RESPONDER})
"""The roles whose calls read the conversation (the executor fills in one step's arguments;
the summarizer is given the turns it folds)."""


@dataclass(frozen=True)
class WorkingMemory:
    """The token budget of each role's calls (``[context]``), and how tokens are counted."""

    budgets: ContextBudgets = field(default_factory=ContextBudgets)
    counter: TokenCounter = field(default_factory=EstimatedTokens)

    def fit(self, request: ModelRequest, recalled: Mapping[str, Any] | None) -> ModelRequest:
        """``request`` with its context assembled under its role's budget: its system prompt and
        tools unchanged, then the conversation ``recalled`` (summary, recent turns: as many as
        fit, newest first) for the roles that read it, then the request's own message. Raises
        ``ContextOverflow`` when the request does not fit even alone."""
        *earlier, current = request.messages
        if earlier:  # prompts send one message; a request built otherwise is sent as it is
            return request
        turns: Sequence[ConversationTurn] = ()
        summary: Summary | None = None
        if recalled and request.role in HISTORY_ROLES:
            turns, summary = recalled.get("turns") or (), recalled.get("summary")
        context = assemble(
            budget=self.budgets.for_role(request.role.value),
            prefix_tokens=prefix_tokens(request.system, request.tools, self.counter),
            current=current,
            turns=turns,
            summary=summary,
            counter=self.counter,
            blocks=bool(request.tools),
        )
        return with_context(request, context)

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
