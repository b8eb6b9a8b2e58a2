"""Working memory: the context of one model call, assembled under a token budget.

A call reads, in this order: the stable prefix (system prompt and tools, which the caller's
request keeps byte-identical so the provider's prompt cache holds), the memory slot (what
long-term memory recalled for the turn, best first, within its share of the budget), the
session's running summary (of its turns up to ``summary["through"]``), as many of the
session's recent turns as fit, whole and newest first, and last the call's own user message.
Memory and summary travel as leading text blocks of the first message (a user message): the
prefix stays untouched by what the conversation says.

What must fit comes first: prefix and current message (or ``ContextOverflow``), then the summary
(clipped to its end, the most recent part, when it alone is too big), then the memory texts
(clipped to their start), then the turns. A turn is never split (a tool use always travels with
its result) and turns the summary covers never come back; the turns newer than the summary that
do not fit are ``left_out``, for the caller to fold into the summary.

Counting: every part is counted with the same ``TokenCounter``; a leading block is charged to its
part (memory or summary) with its block overhead, the rest of the messages' count to the history.
So ``prefix + counter.messages(messages)`` is exactly ``Context.total``, and it is checked against
the budget once the messages are built (turns, then memory, then summary are dropped should a
counter that does not add up, such as the provider's, count more than its parts).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from agentlab.errors import AgentlabError
from agentlab.memory.conversation import ConversationTurn, Summary
from agentlab.memory.tokens import BLOCK_OVERHEAD, ESTIMATE, TOOL_USE_SYSTEM_TOKENS, TokenCounter
from agentlab.models.base import ContextReport, ModelRequest, ToolSpec
from agentlab.models.messages import Block, Message, ToolResultBlock, ToolUseBlock, text_block

CLIPPED = "[…]"
"""Marks where a clipped summary or memory text was cut."""


class ContextOverflow(AgentlabError):
    """A call's system prompt, tools and own message alone exceed its context budget."""

    def __init__(self, *, budget: int, prefix: int, current: int) -> None:
        needed = prefix + current
        super().__init__(
            f"the context of this model call needs at least {needed} tokens ({prefix} for the "
            f"system prompt and tools, {current} for its own message) but its budget is "
            f"{budget} tokens: raise the role's budget in [context] of the config to at least "
            f"{needed}"
        )
        self.budget = budget
        self.needed = needed


@dataclass(frozen=True, slots=True)
class Context:
    """An assembled context: the messages of a call (history, then its own message) and what
    each part of it costs, in tokens of the counter that assembled it.

    ``kept`` numbers the turns kept whole, oldest first; ``left_out`` those newer than the summary
    that did not fit (oldest first); ``summarized`` is the summary's ``through`` when one is in
    the context, else 0.
    """

    messages: tuple[Message, ...]
    budget: int
    prefix: int
    memory: int
    summary: int
    history: int
    current: int
    kept: tuple[int, ...] = ()
    left_out: tuple[int, ...] = ()
    summarized: int = 0

    @property
    def total(self) -> int:
        """The tokens of the whole context: never more than ``budget``."""
        return self.prefix + self.memory + self.summary + self.history + self.current

    def report(self) -> ContextReport:
        """What went into the context, as a ``ModelRequest`` carries it."""
        return ContextReport(
            budget=self.budget,
            parts=(
                ("prefix", self.prefix),
                ("memory", self.memory),
                ("summary", self.summary),
                ("history", self.history),
                ("current", self.current),
            ),
            turns_kept=len(self.kept),
            turns_summarized=self.summarized,
        )


def prefix_tokens(system: str, tools: Sequence[ToolSpec], counter: TokenCounter = ESTIMATE) -> int:
    """The tokens of a request's stable prefix: its system prompt, and for each tool its name,
    description and JSON schema (plus the system prompt the provider adds when tools exist)."""
    tokens = counter.text(system)
    if tools:
        tokens += TOOL_USE_SYSTEM_TOKENS
    for tool in tools:
        schema = json.dumps(tool.input_schema, separators=(",", ":"), default=str)
        tokens += BLOCK_OVERHEAD + counter.text(tool.name)
        tokens += counter.text(tool.description) + counter.text(schema)
    return tokens


def turn_messages(turn: ConversationTurn, *, blocks: bool = True) -> list[Message]:
    """A stored turn's messages as they go into a context.

    With ``blocks=False`` (a call that defines no tools: the API rejects tool blocks in it), a
    tool use becomes a text line of the assistant's message and its result a text line after it,
    on the assistant's side too (the agent's action produced it, the user did not say it);
    consecutive messages of one role are then merged so roles alternate.
    """
    if blocks:
        return _alternate(turn["messages"])
    names = {
        b["id"]: b["name"]
        for m in turn["messages"]
        for b in m["content"]
        if b["type"] == "tool_use"
    }
    said: list[Message] = []
    for message in turn["messages"]:
        for block in message["content"]:
            if block["type"] == "tool_use":
                said.append(Message(role="assistant", content=[text_block(_use_line(block))]))
            elif block["type"] == "tool_result":
                line = _result_line(block, names.get(block["tool_use_id"], "tool"))
                said.append(Message(role="assistant", content=[text_block(line)]))
            else:
                said.append(Message(role=message["role"], content=[block]))
    return _alternate(said)


def assemble(
    *,
    budget: int,
    prefix_tokens: int,
    current: Message,
    turns: Sequence[ConversationTurn],
    summary: Summary | None = None,
    memory: Sequence[str] = (),
    memory_tokens: int | None = None,
    counter: TokenCounter = ESTIMATE,
    blocks: bool = True,
) -> Context:
    """The context of a call whose prefix (system prompt and tools) takes ``prefix_tokens``,
    fitted into ``budget`` tokens; see the module docstring for what goes in and in which order.

    ``turns`` are the session's turns, oldest first; ``current`` is the call's own user message;
    ``memory`` the texts of the memory slot, best first, given at most ``memory_tokens`` (its
    share of the budget; default: whatever is left after the summary);
    ``blocks=False`` renders tool blocks as text (``turn_messages``). Raises ``ContextOverflow``
    when prefix and ``current`` alone exceed ``budget``.
    """
    if current["role"] != "user":
        raise ValueError("the current message of a context must be a user message")
    current_tokens = counter.messages([current])
    if prefix_tokens + current_tokens > budget:
        raise ContextOverflow(budget=budget, prefix=prefix_tokens, current=current_tokens)
    room = budget - prefix_tokens - current_tokens

    def lead_cost(text: str) -> int:
        return _lead_tokens([text], counter)

    summary_text = _clip_summary(summary, room, lead_cost) if summary else None
    summary_tokens = lead_cost(summary_text) if summary_text else 0
    room -= summary_tokens
    slot = room if memory_tokens is None else min(room, memory_tokens)
    memory_text = _clip_memory(memory, slot, lead_cost)
    memory_tokens = lead_cost(memory_text) if memory_text else 0
    room -= memory_tokens

    through = summary["through"] if summary else 0
    newer = [turn for turn in turns if turn["number"] > through]
    kept: list[tuple[int, list[Message]]] = []
    for turn in reversed(newer):
        rendered = turn_messages(turn, blocks=blocks)
        tokens = counter.messages(rendered)
        if tokens > room:
            break
        room -= tokens
        kept.insert(0, (turn["number"], rendered))

    while True:
        lead = [text for text in (memory_text, summary_text) if text]
        history = [message for _, rendered in kept for message in rendered]
        messages = _join(history, lead, current)
        counted = counter.messages(messages)
        if prefix_tokens + counted <= budget:
            break
        # Only a counter whose count of the whole exceeds the sum of its parts gets here.
        if kept:
            kept.pop(0)
        elif memory_text:
            memory_text, memory_tokens = None, 0
        else:
            summary_text, summary_tokens = None, 0

    numbers = tuple(number for number, _ in kept)
    return Context(
        messages=tuple(messages),
        budget=budget,
        prefix=prefix_tokens,
        memory=memory_tokens,
        summary=summary_tokens,
        history=counted - current_tokens - memory_tokens - summary_tokens,
        current=current_tokens,
        kept=numbers,
        left_out=tuple(t["number"] for t in newer if t["number"] not in numbers),
        summarized=through if summary_text else 0,
    )


def with_context(request: ModelRequest, context: Context) -> ModelRequest:
    """``request`` with the context's messages and its report; system prompt and tools are left
    as they are (byte-identical, for the prompt cache)."""
    return dataclasses.replace(request, messages=context.messages, context=context.report())


def _clip_summary(summary: Summary, room: int, cost: Callable[[str], int]) -> str | None:
    """The summary as a leading text, its start cut to fit ``room`` (None: nothing fits)."""
    text = summary["text"]

    def tagged(keep: int) -> str:
        tail = text if keep >= len(text) else f"{CLIPPED} {text[len(text) - keep :]}"
        return (
            f'<conversation_summary through_turn="{summary["through"]}">\n'
            f"{tail}\n</conversation_summary>"
        )

    return _fit(len(text), tagged, room, cost)


def _clip_memory(memory: Sequence[str], room: int, cost: Callable[[str], int]) -> str | None:
    """The memory texts as one leading text, its end cut to fit ``room`` (None: nothing fits or
    there is nothing to remember)."""
    text = "\n\n".join(m for m in memory if m)

    def tagged(keep: int) -> str:
        head = text if keep >= len(text) else f"{text[:keep]} {CLIPPED}"
        return f"<memory>\n{head}\n</memory>"

    return _fit(len(text), tagged, room, cost)


def _fit(
    length: int, make: Callable[[int], str], room: int, cost: Callable[[str], int]
) -> str | None:
    """``make(keep)`` for the largest ``keep`` in 1..length whose cost fits ``room``, found by
    bisection (None when even one character does not fit)."""
    if length == 0:
        return None
    whole = make(length)
    if cost(whole) <= room:
        return whole
    fits, fails = 0, length
    while fails - fits > 1:
        middle = (fits + fails) // 2
        if cost(make(middle)) <= room:
            fits = middle
        else:
            fails = middle
    return make(fits) if fits else None


def _lead_tokens(texts: list[str], counter: TokenCounter) -> int:
    """What leading text blocks add to a message, by the counter's own measure."""
    with_texts = Message(role="user", content=[text_block(t) for t in texts])
    return counter.messages([with_texts]) - counter.messages([Message(role="user", content=[])])


def _join(history: list[Message], lead: list[str], current: Message) -> list[Message]:
    """History then ``current``, roles alternating, ``lead`` texts opening the first message."""
    messages = _alternate([*history, current])
    if lead:
        first = messages[0]
        opening: list[Block] = [text_block(text) for text in lead]
        messages[0] = Message(role=first["role"], content=[*opening, *first["content"]])
    return messages


def _alternate(messages: Iterable[Message]) -> list[Message]:
    """Copies of ``messages``, consecutive messages of one role merged into one."""
    merged: list[Message] = []
    for message in messages:
        if merged and merged[-1]["role"] == message["role"]:
            merged[-1]["content"].extend(message["content"])
        else:
            merged.append(Message(role=message["role"], content=list(message["content"])))
    return merged


def _use_line(block: ToolUseBlock) -> str:
    arguments = json.dumps(block["input"], separators=(",", ":"), default=str)
    return f"[called {block['name']} {arguments}]"


def _result_line(block: ToolResultBlock, name: str) -> str:
    outcome = "failed" if block.get("is_error") else "returned"
    return f"[{name} {outcome}: {block['content']}]"
