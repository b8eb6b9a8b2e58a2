"""A Runner's ``decide``: a person's answer to what a paused run asks, bound to what they saw."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from agentlab.errors import AgentlabError, Fix, RunStateError
from agentlab.events import RunEvent
from agentlab.orchestration.requests import (
    Answer,
    DecisionRefused,
    Request,
    decisions_for,
)
from agentlab.orchestration.runner.view import RunView
from agentlab.orchestration.state import TERMINAL


class Deciding:
    """``Runner.decide`` (it reads runs with ``get`` and continues them with ``resume``)."""

    get: Callable[[str], Awaitable[RunView]]
    resume: Callable[..., Awaitable[AsyncIterator[RunEvent]]]

    async def decide(
        self,
        run_id: str,
        answer: Answer | str,
        *,
        shown: Sequence[Request] | None = None,
        step: str | None = None,
        note: str = "",
        arguments: Mapping[str, Any] | None = None,
        result: Any = None,
        every: bool = False,
        force: bool = False,
        via: str | None = None,
    ) -> AsyncIterator[RunEvent]:
        """Answer what a paused run asks, and continue it: ``approve`` (with edited
        ``arguments``, for one call), ``reject``, ``stop``, or ``happened`` (a call of unknown
        effect took effect; ``result`` is its output).

        The answer is bound to the requests the person was ``shown`` (all of them, or the one of
        ``step``); by default, to those the run waits on when read here. If the run has moved on
        since, it is refused (``DecisionRefused``) and the request it waits on now is named.
        One ``approve`` or ``happened`` answers several calls of unknown effect only with
        ``every``: whether a call took effect is otherwise answered call by call. ``force``: as
        ``resume``'s. ``via`` says how the person answered (``flag``, ``terminal``, ...).
        """
        view = await self.get(run_id) if shown is None else None
        if view is not None:
            shown = view.requests
        if not shown:
            view = view or await self.get(run_id)
            if view.requests:  # it waited for nothing when read, and has paused since
                waiting = ", ".join(r.describe() for r in view.requests)
                raise DecisionRefused(
                    f"run {run_id} was waiting for no decision when it was read, but is now "
                    f"waiting for {waiting}",
                    fix=Fix.LOOK,
                    run_id=run_id,
                )
            if view.status in TERMINAL:
                raise RunStateError(
                    f"run {run_id} has ended ({view.status}): there is nothing to decide"
                )
            raise RunStateError(
                f"run {run_id} is not waiting for a decision (status {view.status})",
                fix=Fix.CONTINUE,
                run_id=run_id,
            )
        decisions = decisions_for(
            run_id,
            _answer(answer),
            shown,
            step=step,
            note=note,
            arguments=arguments,
            result=result,
            every=every,
        )
        if via is not None:  # how the person gave it
            for decision in decisions:
                decision["via"] = via
        decided = decisions[0] if len(decisions) == 1 else decisions
        return await self.resume(run_id, decided, force=force)


def _answer(given: Answer | str) -> Answer:
    try:
        return Answer(given)
    except ValueError:
        answers = ", ".join(a.value for a in Answer)
        raise AgentlabError(f"{given!r} is not an answer: give one of {answers}") from None
