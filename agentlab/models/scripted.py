"""A model that replays a script of turns instead of calling an LLM.

Offline runs and graph tests use it; everything else in such a run is real. It picks the turn by
``ModelRequest.sequence`` rather than by an internal counter, so a run that resumes in another
process replays from where it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence

from agentlab.errors import ScriptError
from agentlab.models.base import ModelRequest, ModelResponse, ToolCall, Usage
from agentlab.models.script import Turn


class ScriptedModel:
    """Replays ``turns`` in order, one per request, for a single role."""

    def __init__(self, turns: Sequence[Turn], *, name: str = "scripted", source: str = "") -> None:
        self._turns = list(turns)
        self._name = name
        self._source = source

    @property
    def name(self) -> str:
        return self._name

    def request(self, request: ModelRequest) -> ModelResponse:
        index = request.sequence
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
        calls = tuple(
            ToolCall(
                id=use.id or f"scripted_{request.role.value}_{index}_{i}",
                name=use.name,
                arguments=dict(use.input),
            )
            for i, use in enumerate(turn.all_tool_uses())
        )
        u = turn.usage
        return ModelResponse(
            model=self._name,
            text=turn.text or "",
            tool_calls=calls,
            usage=Usage(
                u.input_tokens,
                u.output_tokens,
                u.cache_read_input_tokens,
                u.cache_creation_input_tokens,
            ),
            stop_reason=turn.stop_reason or ("tool_use" if calls else "end_turn"),
            scripted=True,
        )
