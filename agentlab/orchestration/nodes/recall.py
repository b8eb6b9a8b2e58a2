"""The ``recall`` node: what of its conversation the run works with.

The conversation (the run context's session in the runs database, else the thread's state) gives
its running summary and the turns since; when those turns pass the recent-turns allowance, the
oldest are folded into a new summary (by the summarizer model, else from the turns' first lines),
kept so the next turn does not write it again. Model calls keep counting across the turns of a
session, so a scripted session replays its answers in order. An agent with long-term memory
recalls, for the turn's message, the principal's most relevant past interactions (and facts):
the memory slot of the turn's model calls.
"""

from __future__ import annotations

import logging

from agentlab.errors import AgentlabError
from agentlab.memory.conversation import ConversationTurn, Summary
from agentlab.memory.long_term import LongTermMemory
from agentlab.memory.sessions import Conversation, ThreadConversation
from agentlab.models.base import Role
from agentlab.orchestration import replying
from agentlab.orchestration.nodes.common import Parts, why_unavailable
from agentlab.orchestration.state import Recalled
from agentlab.orchestration.visit import Update, Visit

log = logging.getLogger(__name__)


def conversation_of(visit: Visit) -> Conversation:
    """The run's conversation: its session's, or its thread's."""
    return visit.ctx.conversation or ThreadConversation(visit.state)


async def recall(parts: Parts, visit: Visit) -> Update:
    """Set the run's place in its conversation and what it recalls of it, and the version of
    the prompts it runs with."""
    conversation = conversation_of(visit)
    last = await conversation.last()
    calls = dict(last["calls"]) if last else {}
    summary = await conversation.summary()
    turns = await conversation.turns(summary["through"] if summary else 0)
    update: Update = {}
    folded = parts.memory.to_fold(turns)
    if folded:
        summary, written = await _fold(parts, visit, summary, folded, calls)
        await conversation.save_summary(summary)
        turns = turns[len(folded) :]
        update.update(written)
    if isinstance(conversation, ThreadConversation):
        update.update(conversation.updates)
    recalled = Recalled(summary=summary, turns=turns)
    if parts.long_term is not None:
        remembered = await _long_term(parts.long_term, visit)
        recalled = {**remembered, "summary": summary, "turns": turns}
    return {
        **update,
        "turn": (last["number"] if last else 0) + 1,
        "recalled": recalled,
        "calls_per_role": calls,
        "prompt_version": parts.prompts.version,
    }


async def _long_term(memory: LongTermMemory, visit: Visit) -> Recalled:
    """What the turn recalls of long-term memory: its memory slot's texts, their scores, and
    which of them hold tool output. A store that cannot answer leaves the slot empty (the turn
    goes on without its memories, and the log says why)."""
    try:
        slot = await memory.recall(visit.ctx.principal, visit.state.get("task") or "")
    except Exception as exc:  # memory is an aid: a broken store must not stop the turn
        log.warning("long-term memory could not be recalled: %s", exc)
        return Recalled(summary=None, turns=[])
    return Recalled(
        summary=None,
        turns=[],
        memory=list(slot.texts),
        memory_sources=list(slot.untrusted),
        recollections=[r.attributes() for r in slot.recollections],
    )


async def _fold(
    parts: Parts,
    visit: Visit,
    summary: Summary | None,
    folded: list[ConversationTurn],
    calls: dict[str, int],
) -> tuple[Summary, Update]:
    """The summary with ``folded`` in it, and the updates recording the summarizer's call."""
    budgets, counter = parts.memory.budgets, parts.memory.counter
    through = folded[-1]["number"]
    kept: Update = {}  # the record of a summarizer's call, whatever it answered
    if parts.models.serves(Role.SUMMARIZER):
        role = Role.SUMMARIZER.value
        index = calls.get(role, 0)
        words = budgets.summary_tokens * 3 // 4
        system = replying.summarizer_system(parts.prompts, parts.agent.name, words)
        # What is folded must fit the summarizer's budget (with the summary so far, and room
        # for the request's own words): its oldest lines go first.
        room = budgets.summarizer - counter.text(system) - budgets.summary_tokens - 64
        text = replying.clip_tokens(replying.folded_text(folded), max(room, 0), counter)
        call = visit.call_info(role, index, phase="summarize")
        request = replying.summarizer_request(system, summary, text, call=call)
        try:
            response, logs = await parts.ask_logged(visit, request)
        except AgentlabError as exc:
            log.warning("the summary is written without a model: %s", why_unavailable(request, exc))
        else:
            calls[role] = index + 1  # the session's next summary is the script's next turn
            logs.pop("calls_per_role", None)  # the session's counts, not this run's alone
            kept = logs
            written = replying.clip_tokens(response.text.strip(), budgets.summary_tokens, counter)
            if written:
                new = Summary(
                    through=through,
                    text=written,
                    tokens=counter.text(written),
                    written_by=response.model,
                )
                return new, logs
            log.warning("the summarizer answered with no text: the summary is written without it")
    text = replying.record_summary(summary, folded, budgets.summary_tokens, counter)
    new = Summary(through=through, text=text, tokens=counter.text(text), written_by=replying.RECORD)
    return new, kept
