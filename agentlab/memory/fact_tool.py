"""``remember_fact``: the tool through which an agent keeps a durable fact about its principal,
or about a customer it serves, in the facts store (``facts.py``).

It reaches the store through ``ctx.memory`` (the run's long-term memory: an object with
``facts``, a ``FactStore``, and ``agent``, the agent's name) and writes as ``ctx.principal``,
for ``ctx.run_id``: the model chooses what to remember, never whose memory it goes to.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from agentlab.memory.facts import (
    KEY_PATTERN,
    SELF,
    SUBJECT_PATTERN,
    VALUE_MAX_CHARS,
    FactError,
    FactStore,
)
from agentlab.tools import FunctionToolset, Risk, ToolContext, ToolError, tool


@tool(risk=Risk.WRITE, idempotent=True)
async def remember_fact(
    ctx: ToolContext,
    key: Annotated[
        str,
        Field(
            pattern=KEY_PATTERN,
            description="What the fact is, in snake_case: preferred_channel, timezone, "
            "language, billing_contact. Use the same key again to update a fact.",
        ),
    ],
    value: Annotated[
        str,
        Field(
            min_length=1,
            max_length=VALUE_MAX_CHARS,
            description="The fact's value as plain text, e.g. 'sms' or 'Europe/Paris'.",
        ),
    ],
    subject: Annotated[
        str,
        Field(
            pattern=SUBJECT_PATTERN,
            description="Whom the fact is about: 'self' for the user you are talking to, or "
            "the customer's id as 'customer-42' for a customer the user serves.",
        ),
    ] = SELF,
    source: Annotated[
        Literal["principal", "tool"],
        Field(
            description="'principal' when the user said it; 'tool' when you read it in a "
            "tool's output (it is then remembered as untrusted)."
        ),
    ] = "principal",
) -> dict[str, Any]:
    """Remember a durable fact about the user or about a customer they serve, for later
    conversations: a preference, a contact detail, a standing instruction. Use it when the user
    states such a fact, or corrects one you remembered (the new value supersedes the old, which
    is kept in history). Do not use it for transient details of the current task (an order
    being discussed, a one-off request) or for anything you only guessed. Calling it again with
    the same value changes nothing. Returns whether the fact was new, unchanged or superseded,
    and the value it replaced."""
    facts, agent = await _memory(ctx)
    if not ctx.principal:
        raise ToolError("this run acts for no principal: there is nobody to remember facts for")
    try:
        change = await facts.remember(
            agent, ctx.principal, key, value, subject=subject, run_id=ctx.run_id, source=source
        )
    except FactError as exc:  # a blank value: the model's to correct
        raise ToolError(str(exc)) from None
    previous = change.previous
    return {
        "change": change.kind,
        "subject": change.fact.subject,
        "key": change.fact.key,
        "value": change.fact.value,
        "since": change.fact.valid_from.isoformat(),
        "previous_value": None if previous is None else previous.value,
    }


async def _memory(ctx: ToolContext) -> tuple[FactStore, str]:
    """The run's facts store and agent name, or the ``ToolError`` saying there are none."""
    opener = getattr(ctx.memory, "fact_store", None)
    facts = await opener() if opener is not None else getattr(ctx.memory, "facts", None)
    agent = getattr(ctx.memory, "agent", None)
    if not isinstance(facts, FactStore) or not isinstance(agent, str) or not agent:
        raise ToolError(
            "remember_fact needs the agent's long-term memory (its facts store), and this run "
            "has none: long-term memory is off ([memory] enabled = false) or not given to the "
            "run; answer without remembering"
        )
    return facts, agent


fact_tools = FunctionToolset([remember_fact])
"""``remember_fact``."""
