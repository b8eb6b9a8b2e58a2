"""Working memory: each model call's context assembled under a token budget (memory/working.py),
counted by the offline estimate (memory/tokens.py)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentlab.errors import AgentlabError
from agentlab.memory import (
    ESTIMATE,
    Context,
    ContextOverflow,
    ConversationTurn,
    EstimatedTokens,
    Summary,
    assemble,
    prefix_tokens,
    turn_messages,
    with_context,
)
from agentlab.models.base import ModelRequest, Role, ToolSpec
from agentlab.models.messages import (
    Block,
    Message,
    assistant,
    text_of,
    tool_result_block,
    tool_use_block,
    user,
)

SYSTEM = "You are a careful agent."
TOOLS = (
    ToolSpec("search", "Search the notes.", {"type": "object", "properties": {"q": {}}}),
    ToolSpec("write", "Write a note.", {"type": "object", "properties": {"text": {}}}),
)
PREFIX = prefix_tokens(SYSTEM, TOOLS)


def make_turn(
    number: int,
    *,
    said: str = "hello",
    reply: str = "done",
    rounds: list[list[tuple[str, dict[str, Any], str]]] | None = None,
) -> ConversationTurn:
    """A stored turn: the user's message, rounds of tool calls (each round an assistant message
    of tool uses and a user message of their results), then the reply."""
    messages: list[Message] = [user(said)]
    for r, calls in enumerate(rounds or []):
        uses = [tool_use_block(f"t{number}_{r}_{i}", n, a) for i, (n, a, _) in enumerate(calls)]
        results = [
            tool_result_block(f"t{number}_{r}_{i}", out) for i, (_, _, out) in enumerate(calls)
        ]
        messages += [assistant(*uses), user(*results)]
    messages.append(assistant(reply))
    return ConversationTurn(
        session="s",
        number=number,
        run_id=f"run{number}",
        message=said,
        reply=reply,
        status="completed",
        messages=messages,
        tokens=ESTIMATE.messages(messages),
        calls={},
        created_at="2025-01-01T00:00:00Z",
    )


def summary_of(through: int, text: str) -> Summary:
    return Summary(through=through, text=text, tokens=ESTIMATE.text(text), written_by="record")


def turn_cost(turn: ConversationTurn, *, blocks: bool = True) -> int:
    return ESTIMATE.messages(turn_messages(turn, blocks=blocks))


CURRENT = user("What did we find?")
CURRENT_TOKENS = ESTIMATE.messages([CURRENT])


def all_text(messages: tuple[Message, ...] | list[Message]) -> str:
    return "\n".join(text_of(m["content"]) for m in messages)


def fit(budget: int, turns: Sequence[ConversationTurn] = (), **options: Any) -> Context:
    """The context of a call with the test's prefix and current message."""
    return assemble(budget=budget, prefix_tokens=PREFIX, current=CURRENT, turns=turns, **options)


def opening(message: Message) -> str:
    """The text of a message's first block (where memory and summary go)."""
    block = message["content"][0]
    assert block["type"] == "text"
    return block["text"]


# The estimate


def test_a_text_takes_its_utf8_bytes_over_three_and_a_half_rounded_up():
    assert ESTIMATE.text("") == 0
    assert ESTIMATE.text("a" * 7) == 2
    assert ESTIMATE.text("a" * 8) == 3
    assert ESTIMATE.text("é" * 7) == 4  # two bytes a character
    assert EstimatedTokens(bytes_per_token=2.5).text("a" * 100) == 40  # for denser text


def test_messages_count_their_blocks_and_a_fixed_overhead_each():
    one = ESTIMATE.messages([user("a" * 7)])
    two = ESTIMATE.messages([user("a" * 7, "a" * 7)])
    assert two - one == ESTIMATE.messages([user("a" * 7)]) - ESTIMATE.messages([user()])
    assert ESTIMATE.messages([user("x"), assistant("y")]) == 2 * ESTIMATE.messages([user("x")])


def test_a_tool_use_counts_its_name_and_compact_json_input():
    small = ESTIMATE.messages([assistant(tool_use_block("id", "search", {"q": "a"}))])
    large = ESTIMATE.messages([assistant(tool_use_block("id", "search", {"q": "a" * 350}))])
    assert large - small == 100


# Choosing turns


def test_newest_turns_are_kept_first():
    turns = [make_turn(n, said="word " * 80) for n in range(1, 6)]
    budget = PREFIX + CURRENT_TOKENS + turn_cost(turns[3]) + turn_cost(turns[4])
    context = fit(budget, turns)
    assert context.kept == (4, 5)
    assert context.left_out == (1, 2, 3)
    assert context.messages[-1] == CURRENT


def test_a_turn_is_never_split_and_older_turns_do_not_jump_the_queue():
    big = make_turn(3, rounds=[[("search", {"q": "x"}, "result " * 400)]])
    turns = [make_turn(1), make_turn(2), big]
    budget = PREFIX + CURRENT_TOKENS + turn_cost(big) - 1
    context = fit(budget, turns)
    assert context.kept == ()
    assert context.left_out == (1, 2, 3)
    assert context.messages == (CURRENT,)


def test_a_turn_with_tool_calls_travels_whole():
    turn = make_turn(1, rounds=[[("search", {"q": "x"}, "found"), ("write", {"text": "y"}, "ok")]])
    context = fit(10_000, [turn])
    assert list(context.messages[:-1]) == turn["messages"]
    assert context.kept == (1,)


def test_the_summary_replaces_the_turns_it_covers():
    turns = [make_turn(n, said=f"question {n}") for n in range(1, 6)]
    summary = summary_of(3, "We looked for notes about tea.")
    context = fit(100_000, turns, summary=summary)
    assert context.kept == (4, 5)
    assert context.left_out == ()
    text = all_text(context.messages)
    assert "question 3" not in text and "question 4" in text
    first = context.messages[0]
    assert first["role"] == "user"
    assert "We looked for notes about tea." in opening(first)
    assert context.report().turns_summarized == 3


def test_memory_then_summary_open_the_history():
    turn = make_turn(4, said="question 4")
    context = fit(
        100_000, [turn], summary=summary_of(3, "The summary."), memory=["The user likes tea."]
    )
    blocks = context.messages[0]["content"]
    texts = [b["text"] for b in blocks if b["type"] == "text"]
    assert "The user likes tea." in texts[0]
    assert "The summary." in texts[1]
    assert texts[2] == "question 4"


def test_without_turns_memory_and_summary_open_the_current_message():
    context = fit(100_000, [], summary=summary_of(2, "The summary."))
    assert len(context.messages) == 1
    assert "The summary." in opening(context.messages[0])
    assert context.messages[0]["content"][-1] == CURRENT["content"][0]
    assert len(CURRENT["content"]) == 1  # the caller's message is left as it was


# Budget


def test_a_budget_too_small_for_the_call_itself_says_what_to_raise():
    needed = PREFIX + CURRENT_TOKENS
    with pytest.raises(ContextOverflow) as raised:
        fit(needed - 1, [])
    message = str(raised.value)
    assert isinstance(raised.value, AgentlabError)
    assert f"{needed - 1}" in message and f"{needed}" in message
    assert "[context]" in message and "budget" in message


def test_a_budget_that_fits_the_call_itself_exactly_sends_it_alone():
    budget = PREFIX + CURRENT_TOKENS
    context = fit(budget, [make_turn(1)], summary=summary_of(0, "s"), memory=["m"])
    assert context.messages == (CURRENT,)
    assert context.total == budget
    assert context.left_out == (1,)


def test_a_summary_too_big_alone_is_clipped_to_its_most_recent_end():
    text = " ".join(f"event{i}" for i in range(2000))
    budget = PREFIX + CURRENT_TOKENS + 200
    context = fit(budget, [make_turn(3)], summary=summary_of(2, text))
    lead = opening(context.messages[0])
    assert "event1999" in lead and "event0 " not in lead and "[…]" in lead
    assert 190 <= context.summary <= 200
    assert context.total <= budget
    assert context.left_out == (3,)


def test_memory_too_big_is_clipped_to_its_start():
    budget = PREFIX + CURRENT_TOKENS + 100
    context = fit(budget, [], memory=["first fact " * 10, "second fact " * 200])
    lead = opening(context.messages[0])
    assert lead.startswith("<memory>\nfirst fact") and "[…]" in lead
    assert context.total <= budget


def test_the_parts_add_up_to_the_count_of_the_messages():
    turns = [make_turn(n, rounds=[[("search", {"q": n}, "found " * n)]]) for n in range(1, 8)]
    context = fit(PREFIX + 600, turns, summary=summary_of(2, "earlier " * 30), memory=["a fact"])
    assert context.total == PREFIX + ESTIMATE.messages(context.messages)
    assert [name for name, _ in context.report().parts] == [
        "prefix",
        "memory",
        "summary",
        "history",
        "current",
    ]
    assert context.report().total == context.total
    assert context.report().turns_kept == len(context.kept)


# Without tool blocks


def test_without_blocks_tool_calls_become_text_lines():
    turn = make_turn(1, rounds=[[("search", {"q": "tea"}, "3 notes")]])
    turn["messages"][-2]["content"].append(
        tool_result_block("nope", "boom", is_error=True)  # an error result, from no known use
    )
    messages = turn_messages(turn, blocks=False)
    assert all(b["type"] == "text" for m in messages for b in m["content"])
    text = all_text(messages)
    assert '[called search {"q":"tea"}]' in text
    assert "[search returned: 3 notes]" in text
    assert "[tool failed: boom]" in text


def test_without_blocks_roles_alternate():
    turn = make_turn(
        1,
        rounds=[[("search", {"q": "a"}, "x")], [("write", {"text": "b"}, "ok")]],
    )
    messages = turn_messages(turn, blocks=False)
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert text_of(messages[-1]["content"]).endswith("done")


def test_with_context_keeps_system_and_tools_and_carries_the_report():
    request = ModelRequest(Role.PLANNER, SYSTEM, (CURRENT,), tools=TOOLS)
    context = fit(5_000, [make_turn(1)])
    sent = with_context(request, context)
    assert sent.system is request.system and sent.tools is request.tools
    assert sent.messages == context.messages
    assert sent.context == context.report()


def test_the_prefix_counts_system_prompt_and_tool_definitions():
    assert prefix_tokens(SYSTEM, ()) == ESTIMATE.text(SYSTEM)
    assert prefix_tokens(SYSTEM, TOOLS) > prefix_tokens(SYSTEM, TOOLS[:1]) > ESTIMATE.text(SYSTEM)


# Properties over arbitrary histories

_words = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=40)
_sized_text = st.builds(
    lambda head, size, unit: head + unit * size,
    _words,
    st.sampled_from([0, 0, 0, 1, 10, 100, 1_000, 6_000]),
    st.sampled_from(["lorem ", "é", "数据", '{"k": 1} ']),
)
_call = st.tuples(
    st.sampled_from(["search", "write"]),
    st.dictionaries(st.sampled_from(["q", "text", "n"]), st.one_of(_words, st.integers())),
    _sized_text,
)


@st.composite
def _histories(draw: st.DrawFn) -> tuple[list[ConversationTurn], Summary | None, list[str]]:
    count = draw(st.integers(0, 8))
    turns = []
    for number in range(1, count + 1):
        calls = draw(st.lists(_call, max_size=3))
        rounds: list[list[tuple[str, dict[str, Any], str]]] = []
        while calls:  # calls made together in one message, or one after another
            size = draw(st.integers(1, len(calls)))
            rounds.append(calls[:size])
            calls = calls[size:]
        turns.append(
            make_turn(number, said=draw(_sized_text), reply=draw(_sized_text), rounds=rounds)
        )
    summary = None
    if draw(st.booleans()):
        summary = summary_of(draw(st.integers(0, count)), draw(_sized_text))
    memory = draw(st.lists(_sized_text, max_size=3))
    return turns, summary, memory


_share = st.tuples(st.sampled_from([0, 0.05, 0.2, 0.5, 0.8, 1, 2]), st.integers(-50, 50))
"""The budget beyond what the call itself needs, as a share of everything it could be sent
(give or take a few tokens): from nothing to more than enough."""


def _check_tool_pairs(messages: tuple[Message, ...]) -> None:
    """The tool uses of each message are the tool results of the next, and only those."""

    def ids(message: Message, kind: str) -> set[str]:
        blocks: list[Block] = message["content"]
        key = "id" if kind == "tool_use" else "tool_use_id"
        return {b[key] for b in blocks if b["type"] == kind}  # type: ignore[literal-required]

    uses: list[set[str]] = [set()] + [ids(m, "tool_use") for m in messages]
    assert uses == [ids(m, "tool_result") for m in messages] + [set()]


@settings(max_examples=300, deadline=None)
@given(
    history=_histories(),
    share=_share,
    blocks=st.booleans(),
)
def test_any_history_fits_its_budget_and_stays_a_valid_conversation(
    history: tuple[list[ConversationTurn], Summary | None, list[str]],
    share: tuple[float, int],
    blocks: bool,
):
    turns, summary, memory = history
    everything = sum(turn_cost(t, blocks=blocks) for t in turns) + sum(
        ESTIMATE.text(text) for text in [*memory, summary["text"] if summary else ""]
    )
    budget = PREFIX + CURRENT_TOKENS + max(0, int(everything * share[0]) + share[1])
    request = ModelRequest(Role.PLANNER, SYSTEM, (CURRENT,), tools=TOOLS)
    context = fit(budget, turns, summary=summary, memory=memory, blocks=blocks)
    sent = with_context(request, context)

    def prefix_json(r: ModelRequest) -> str:
        return json.dumps([r.system, [dataclasses.asdict(t) for t in r.tools]])

    assert prefix_json(sent) == prefix_json(request)

    messages = sent.messages
    assert messages[0]["role"] == "user"
    assert all(a["role"] != b["role"] for a, b in zip(messages, messages[1:], strict=False))
    _check_tool_pairs(messages)
    if not blocks:
        assert all(b["type"] == "text" for m in messages for b in m["content"])

    through = summary["through"] if summary else 0
    newer = [t["number"] for t in turns if t["number"] > through]
    kept = len(context.kept)
    assert context.kept == tuple(newer[len(newer) - kept :])
    assert context.left_out == tuple(newer[: len(newer) - kept])

    assert ESTIMATE.messages(messages) + PREFIX <= budget
    assert context.total == ESTIMATE.messages(messages) + PREFIX
    assert context.total <= budget
