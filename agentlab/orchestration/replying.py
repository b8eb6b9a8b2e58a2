"""What the responder and the summarizer are asked, what is written without them, and the turn
a run adds to its conversation.

The responder writes the reply that ends every run, from the user's message, what was done
(results, approvals, refusals) and how the run ended. When no model may write it (none is
configured, the models are down, the run was killed or is over budget) the reply is written from
the run's record, and says so. The summarizer folds a conversation's oldest turns into its
running summary; without one, the summary is the turns' first lines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agentlab.memory.conversation import RESULT_CHARS, ConversationTurn, Summary
from agentlab.memory.tokens import TokenCounter
from agentlab.memory.working import turn_messages
from agentlab.models.base import CallInfo, ModelRequest, Role
from agentlab.models.messages import (
    Block,
    Message,
    assistant,
    text_of,
    tool_result_block,
    tool_use_block,
    user,
)
from agentlab.orchestration.prompt_book import PromptBook
from agentlab.orchestration.prompts import digest
from agentlab.orchestration.state import StepResult
from agentlab.store.sessions import now_text

RECORD = "record"
"""Who wrote a summary written without a model."""


def responder_request(
    agent: tuple[str, str],
    state: Mapping[str, Any],
    *,
    call: CallInfo,
    prompts: PromptBook,
    on_text: Callable[[str], None] | None = None,
) -> ModelRequest:
    """Ask for the reply to the user's message of the run ``state`` describes, in the version
    of the system prompts ``prompts``; ``on_text`` is given the reply as it arrives."""
    name, purpose = agent
    system = prompts.system(Role.RESPONDER, name=name, purpose=purpose)
    text = (
        f"The user's message: {state['task']}\n\n"
        f"What was done in this turn:\n{_done(state)}\n\n"
        f"How it ended: {state['status']}: {state.get('outcome') or 'no verdict'}"
    )
    return ModelRequest(
        role=Role.RESPONDER,
        system=system,
        messages=(user(text),),
        max_tokens=1024,
        call=call,
        on_text=on_text,
    )


def record_reply(state: Mapping[str, Any], why: str = "") -> str:
    """The reply written from the run's record, without a model; ``why`` says why no model
    wrote it (none when the record is the whole answer, as for a killed run)."""
    results = this_run(state, "results")
    done = [r["tool"] for r in results if r["outcome"]["ok"]]
    failed = [r["tool"] for r in results if not r["outcome"]["ok"]]
    rejected = [a["tool"] for a in this_run(state, "approvals") if not a["approved"]]
    outcome = str(state.get("outcome") or "").strip()
    if state.get("status") == "completed":
        lines = [_sentence(f"Done: {outcome}" if outcome else "Done")]
    else:
        lines = [_sentence(f"I could not finish this: {outcome or 'the run stopped'}")]
    lines.append(f"Succeeded: {', '.join(done)}." if done else "No tool call succeeded.")
    if failed:
        lines.append(f"Failed: {', '.join(failed)}.")
    if rejected:
        lines.append(f"Not approved: {', '.join(rejected)}.")
    if why:
        lines.append(f"(Written from the run's record: {why}.)")
    return " ".join(lines)


def summarizer_system(prompts: PromptBook, agent: str, words: int) -> str:
    """The summarizer's system prompt in the version ``prompts`` (the same on every call: its
    prefix is cached)."""
    return prompts.system(Role.SUMMARIZER, name=agent, words=words)


def summarizer_request(
    system: str, summary: Summary | None, folded: str, *, call: CallInfo
) -> ModelRequest:
    """Ask for the running summary with the turns ``folded`` (rendered as text) folded in."""
    before = summary["text"] if summary else "(none yet)"
    text = f"The summary so far:\n{before}\n\nThe turns to fold in:\n{folded}"
    return ModelRequest(
        role=Role.SUMMARIZER, system=system, messages=(user(text),), max_tokens=2048, call=call
    )


def folded_text(turns: Sequence[ConversationTurn]) -> str:
    """Turns as text for the summarizer: each turn's messages, tool blocks as lines."""
    out = []
    for turn in turns:
        said = "\n".join(
            f"{m['role']}: {text_of(m['content'])}" for m in turn_messages(turn, blocks=False)
        )
        out.append(f"Turn {turn['number']}:\n{said}")
    return "\n\n".join(out)


def record_summary(
    summary: Summary | None, turns: Sequence[ConversationTurn], limit: int, counter: TokenCounter
) -> str:
    """The summary written without a model: the one before and a line per folded turn, its
    oldest lines dropped past ``limit`` tokens."""
    lines = [summary["text"]] if summary else []
    for turn in turns:
        lines.append(
            f"Turn {turn['number']}: the user said {_line(turn['message'])}; "
            f"the reply was {_line(turn['reply'])}"
        )
    return clip_tokens("\n".join(lines), limit, counter)


def clip_tokens(text: str, limit: int, counter: TokenCounter) -> str:
    """``text`` cut to ``limit`` tokens, keeping its end (the most recent)."""
    while text and counter.text(text) > limit:
        keep = int(len(text) * limit / counter.text(text) * 0.9)
        text = "…" + text[len(text) - max(keep, 0) :] if keep > 0 else ""
    return text


def turn_messages_of(state: Mapping[str, Any], reply: str) -> list[Message]:
    """The turn the run ``state`` describes as messages: the user's message, its tool calls and
    their results (clipped) as content blocks, and the reply."""
    messages: list[Message] = [user(state["task"])]
    results: Sequence[StepResult] = this_run(state, "results")
    if results:
        uses: list[Block] = []
        answers: list[Block] = []
        for r in results:
            block_id = "toolu_" + re.sub(r"[^A-Za-z0-9_-]", "_", r["step_id"])
            uses.append(tool_use_block(block_id, r["tool"], r["arguments"]))
            o = r["outcome"]
            shown = json.dumps(o["output"], default=str) if o["ok"] else str(o["error"])
            if len(shown) > RESULT_CHARS:
                shown = shown[: RESULT_CHARS - 1] + "…"
            answers.append(tool_result_block(block_id, shown, is_error=not o["ok"]))
        messages += [assistant(*uses), user(*answers)]
    messages.append(assistant(reply))
    return messages


def turn_record(
    session: str,
    number: int,
    run_id: str,
    state: Mapping[str, Any],
    reply: str,
    tokens: int,
) -> ConversationTurn:
    """The turn the run ``state`` describes adds to its conversation, its messages counted as
    ``tokens``."""
    messages = turn_messages_of(state, reply)
    return ConversationTurn(
        session=session,
        number=number,
        run_id=run_id,
        message=state["task"],
        reply=reply,
        status=str(state["status"]),
        messages=messages,
        tokens=tokens,
        calls=dict(state.get("calls_per_role") or {}),
        created_at=now_text(),
    )


def this_run(state: Mapping[str, Any], log: str) -> list[Any]:
    """The entries of the step-keyed ``log`` (results, approvals, policy decisions) that this
    run added: a thread keeps its earlier runs' too, with step ids of earlier planning rounds."""
    first = int(state.get("first_round") or 0)
    return [e for e in state.get(log, []) if _round(str(e["step_id"])) > first]


def _round(step_id: str) -> int:
    """The planning round of a step id (``"3.1"``: 3)."""
    head = step_id.split(".")[0]
    return int(head) if head.isdigit() else 0


def _done(state: Mapping[str, Any]) -> str:
    lines = [digest(this_run(state, "results"))]
    for a in this_run(state, "approvals"):
        verdict = "approved" if a["approved"] else "rejected"
        note = f" ({a['note']})" if a.get("note") else ""
        lines.append(f"- a person {verdict} {a['tool']} in step {a['step_id']}{note}")
    for d in this_run(state, "policy_decisions"):
        if d["verdict"] == "deny":
            lines.append(f"- the policy forbade {d['tool']}: {'; '.join(d['reasons'])}")
    return "\n".join(lines)


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _line(text: str, chars: int = 160) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= chars else text[: chars - 1] + "…")
