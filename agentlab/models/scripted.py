"""A model that replays a script of turns instead of calling an LLM.

Offline runs and graph tests use it; everything else in such a run is real. It answers a request
with the turn at ``request.call.index`` (the call's place among its role's calls in the run), so a
run resumed in another process replays from where it stopped; ``assert_complete()`` checks that a
test used every turn.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from agentlab.errors import ScriptError
from agentlab.models.base import ModelRequest, ModelResponse, Usage
from agentlab.models.messages import Block, text_block, tool_use_block
from agentlab.models.pricing import SIMULATED, Pricing
from agentlab.models.script import Turn

PROVIDER = "scripted"


class ScriptedModel:
    """Replays ``turns`` in order, one per request, for a single role.

    ``priced_as`` names a model of the pricing table: the answers then come from the
    ``simulated`` provider as that model, so they cost what it would (a simulated cost);
    ``latency_s`` is how long each answer takes (a simulated latency).
    """

    def __init__(
        self,
        turns: Sequence[Turn],
        *,
        name: str = "scripted",
        source: str = "",
        priced_as: str | None = None,
        latency_s: float = 0.0,
    ) -> None:
        self._turns = list(turns)
        self.latency_s = latency_s
        self._name = name
        self._source = source
        self.priced_as = priced_as
        self._answered: set[int] = set()

    @property
    def name(self) -> str:
        return self._name

    def pricing(self) -> Pricing:
        """Free, unless ``priced_as`` a listed model (a simulated cost)."""
        if self.priced_as:
            return Pricing.listed(self.priced_as, simulated=True)
        return Pricing.free(self._name)

    async def request(self, request: ModelRequest) -> ModelResponse:
        index = request.call.index
        if index >= len(self._turns):
            where = f" in {self._source}" if self._source else ""
            raise ScriptError(
                f"the script{where} has {len(self._turns)} {request.role.value} turn(s) and the "
                f"run asked for turn {index + 1}: add turns to the script, or check that it fits "
                "the task"
            )
        turn = self._turns[index]
        if turn.error is not None:
            raise ScriptError(f"scripted model turns cannot be errors (turn {index + 1})")
        self._answered.add(index)
        if self.latency_s:
            await asyncio.sleep(
                self.latency_s
            )  # a simulated call's time; other runs go on meanwhile
        content: list[Block] = [text_block(turn.text)] if turn.text else []
        # Ids unique in the run: escalated calls count their own indices.
        who = request.role.value + ("_escalated" if request.call.escalation else "")
        content += [
            tool_use_block(use.id or f"scripted_{who}_{index}_{i}", use.name, use.input)
            for i, use in enumerate(turn.all_tool_uses())
        ]
        u = turn.usage
        usage = Usage(
            u.input_tokens,
            u.output_tokens,
            u.cache_read_input_tokens,
            u.cache_creation_input_tokens,
        )
        if request.on_text is not None and turn.text:  # as a stream would: word by word
            for piece in re.findall(r"\S+\s*|\s+", turn.text):
                request.on_text(piece)
        has_calls = any(b["type"] == "tool_use" for b in content)
        return ModelResponse(
            model=self.priced_as or self._name,
            provider=SIMULATED if self.priced_as else PROVIDER,
            content=tuple(content),
            usage=usage,
            stop_reason=turn.stop_reason or ("tool_use" if has_calls else "end_turn"),
            cost_usd=self.pricing().cost(usage),
        )

    def assert_complete(self) -> None:
        """Raise ``AssertionError`` unless every turn was answered."""
        unused = [i + 1 for i in range(len(self._turns)) if i not in self._answered]
        if unused:
            raise AssertionError(f"{self._name}: turn(s) {unused} of {len(self._turns)} unused")
