"""The ``respond`` node: every run ends here, with a reply to the user.

The reply is the planner's when it answered directly; else the responder model writes it from
the user's message, what was done and how the run ended; else (no responder model, the models
down, the run killed or out of budget) it is written from the run's record and says so. The turn
(the user's message, its tool calls and results, the reply) is then added to the run's
conversation. A run resumed after a crash that had already stored its turn answers with the
stored reply: the turn is stored once, and the reply the user may have read stays the same.
An agent with long-term memory then stores the turn's interaction (``remembering``), under the
run and turn's id: stored once too, whether the run crashed before or after it did.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from agentlab.errors import AgentlabError
from agentlab.events import Replied, ReplyDelta
from agentlab.memory.long_term import LongTermMemory
from agentlab.memory.sessions import ThreadConversation
from agentlab.models.base import Role
from agentlab.orchestration import replying
from agentlab.orchestration.nodes.common import Parts, why_unavailable
from agentlab.orchestration.nodes.recall import conversation_of
from agentlab.orchestration.remembering import episode_of
from agentlab.orchestration.visit import Update, Visit

log = logging.getLogger(__name__)


async def respond(parts: Parts, visit: Visit) -> Update:
    """Write the run's reply and add its turn to the conversation."""
    state, ctx = visit.state, visit.ctx
    conversation = conversation_of(visit)
    number = state.get("turn") or 1
    run_id = ctx.run_id or ""
    update: Update = {}
    streamed: list[str] = []  # the pieces of the reply shown as they arrived
    stored = await conversation.turn(number)
    session = ctx.session or run_id
    if stored is not None and stored["run_id"] == run_id:  # stored before a crash
        reply = stored["reply"]
    else:
        reply = state.get("reply") or ""
        if not reply:
            reply, update = await _write(parts, visit, streamed)
        merged = {**state, **update}
        tokens = await parts.memory.turn_tokens(replying.turn_messages_of(merged, reply))
        if stored is not None:  # another run took this number (two messages sent at once)
            last = await conversation.last()
            number = (last["number"] if last else number) + 1
        turn = replying.turn_record(session, number, run_id, merged, reply, tokens)
        await conversation.append(turn)
    if parts.long_term is not None:
        await _remember(parts.long_term, visit, session, number, {**state, **update}, reply)
    if isinstance(conversation, ThreadConversation):
        update.update(conversation.updates)
    shown = bool(streamed) and "".join(streamed).strip() == reply
    visit.emit(Replied(reply, number, streamed=shown))
    return {**update, "reply": reply, "replied": True}


async def _write(parts: Parts, visit: Visit, streamed: list[str]) -> tuple[str, Update]:
    """The reply, and the updates recording the responder's call if one was made."""
    state, ctx = visit.state, visit.ctx
    if not parts.models.serves(Role.RESPONDER):
        return replying.record_reply(state, "no responder model is configured"), {}
    if state.get("no_model_reply"):
        return replying.record_reply(state, state["no_model_reply"]), {}
    if ctx.ledger is not None and await ctx.ledger.killed() is not None:
        return replying.record_reply(state), {}  # killed: no more model calls
    request = replying.responder_request(
        (parts.agent.name, parts.agent.purpose),
        state,
        call=visit.call_info(Role.RESPONDER.value),
        prompts=parts.prompts,
        on_text=lambda piece: _stream(visit, streamed, piece),  # shown as it arrives
    )
    try:
        response, logs = await parts.ask_logged(visit, request)
    except AgentlabError as exc:
        return replying.record_reply(state, why_unavailable(request, exc)), {}
    text = response.text.strip()
    if not text:
        return replying.record_reply(state, "the responder's answer had no text"), logs
    return text, logs


async def _remember(
    memory: LongTermMemory,
    visit: Visit,
    session: str,
    number: int,
    state: Mapping[str, Any],
    reply: str,
) -> None:
    """Store the turn's interaction in episodic memory (again after a crash: under the same
    id, so once). A store that cannot take it loses this memory, not the turn: logged."""
    episode = episode_of(
        memory,
        principal=visit.ctx.principal,
        session=session,
        run_id=visit.ctx.run_id or "",
        turn=number,
        state=state,
        reply=reply,
    )
    try:
        await memory.remember(episode)
    except Exception as exc:
        log.warning(
            "turn %s of run %s was not stored in long-term memory: %s", number, episode.run_id, exc
        )


def _stream(visit: Visit, streamed: list[str], piece: str) -> None:
    streamed.append(piece)
    visit.emit(ReplyDelta(piece))
