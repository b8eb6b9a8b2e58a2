"""Reading a Messages API answer: checked before agentlab trusts it.

The ``anthropic`` SDK builds its response objects leniently (``construct``): a tool-use block whose
``input`` is a string, a block of an unknown type, a message without usage or a stop reason all
come through as objects that break whoever reads them. ``read_answer`` checks the answer against
what agentlab reads of it (text and tool-use blocks, usage, the stop reason) and raises a
``TransientModelError`` saying what was wrong, so a broken answer costs one attempt of the retry
policy, never a traceback.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, ValidationError

from agentlab.models.base import ModelResponse, Usage
from agentlab.models.messages import Block, text_block, tool_use_block
from agentlab.models.pricing import Pricing
from agentlab.models.retry import TransientModelError

PROVIDER = "anthropic"
_SHOWN = 60  # characters of a wrong value quoted in a message


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _Text(_Read):
    type: Literal["text"]
    text: str


class _ToolUse(_Read):
    type: Literal["tool_use"]
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    input: dict[str, Any]


class _Thinking(_Read):
    """Blocks the API sends when extended thinking is on: valid, and not read."""

    type: Literal["thinking", "redacted_thinking"]


class _Usage(_Read):
    input_tokens: NonNegativeInt
    output_tokens: NonNegativeInt
    cache_read_input_tokens: NonNegativeInt | None = None
    cache_creation_input_tokens: NonNegativeInt | None = None


class _Answer(_Read):
    model: str = Field(min_length=1)
    content: list[Annotated[_Text | _ToolUse | _Thinking, Field(discriminator="type")]]
    stop_reason: str
    usage: _Usage


def read_answer(message: object, latency_s: float) -> ModelResponse:
    """The ``ModelResponse`` of a Messages API ``message`` (as the SDK returned it).

    Raises ``TransientModelError`` when the message is not a whole, valid answer: another
    attempt may get one.
    """
    try:
        answer = _Answer.model_validate(message)
    except ValidationError as exc:
        raise TransientModelError(_malformed(exc)) from exc
    content: list[Block] = []
    for block in answer.content:
        if isinstance(block, _Text):
            content.append(text_block(block.text))
        elif isinstance(block, _ToolUse):
            content.append(tool_use_block(block.id, block.name, block.input))
    u = answer.usage
    usage = Usage(
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        cache_read_tokens=u.cache_read_input_tokens or 0,
        cache_write_tokens=u.cache_creation_input_tokens or 0,
    )
    return ModelResponse(
        model=answer.model,
        provider=PROVIDER,
        content=tuple(content),
        usage=usage,
        stop_reason=answer.stop_reason,
        latency_s=latency_s,
        # The model that answered (a dated snapshot is priced as its model).
        cost_usd=Pricing.listed(answer.model).cost(usage),
    )


def _malformed(exc: ValidationError) -> str:
    """What is wrong with an answer, on one line, and what to check."""
    errors = exc.errors(include_url=False)
    if any(e["loc"] == ("stop_reason",) and e.get("input") is None for e in errors):
        return (
            "the answer ended before its stop_reason (a stream cut short, or a proxy that "
            "forwarded one): check the network or proxy"
        )
    first = errors[0]
    loc = list(first["loc"])
    if loc[:1] == ["content"] and len(loc) > 2:
        del loc[2]  # the block type pydantic tried (the union's tag): ``type`` says it
    where = ".".join(map(str, loc))
    shown = repr(first.get("input"))
    if len(shown) > _SHOWN:
        shown = shown[: _SHOWN - 3] + "..."
    more = f" and {len(errors) - 1} more problem(s)" if len(errors) > 1 else ""
    return (
        f"the answer is not a valid Messages API message ({where or 'the message'}: "
        f"{first['msg']}, got {shown}{more}): check that anthropic_base_url is an "
        "Anthropic-compatible endpoint"
    )
