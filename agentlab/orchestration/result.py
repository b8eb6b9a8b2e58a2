"""The short path: run an agent from a script and answer its approvals in a line or two.

::

    result = agent.run_sync("Close Ada's account", script="demo.yaml")
    if result.waiting:
        print(result.requests[0])   # the call, its arguments, why it waits
        result.approve()            # or result.reject(), result.reject(stop=True)
    print(result.status, result.reply)

``Agent.run`` / ``Agent.run_sync`` open a ``Runner`` on the configured data directory, start the
run and follow it until it ends or waits for a person. The result keeps that Runner while the run
waits (its answers go to the same process, which has the agent object) and closes it once the run
has ended, or with ``close()``. Everything else is the full API's: the run is durable, journaled
and traced as any other, and ``agentlab runs`` lists it; but an agent given as an object is known
only to the process that has it, so a run left waiting is continued by a runner given the agent
by reference (``Runner.start("module:attr", ...)``), not by this one once closed.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from agentlab.config import Settings, load_settings
from agentlab.errors import RunStateError
from agentlab.events import RunEvent
from agentlab.models.router import ModelSpec
from agentlab.orchestration.requests import Answer, Request
from agentlab.orchestration.runner import Runner, RunView, SyncRunner
from agentlab.orchestration.state import TERMINAL

if TYPE_CHECKING:
    from agentlab.orchestration.agent import Agent

OnEvent = Callable[[RunEvent], None]


class _Outcome:
    """What a result says of its run, read from its view."""

    view: RunView
    events: list[RunEvent]

    @property
    def run_id(self) -> str:
        return self.view.record.run_id

    @property
    def status(self) -> str:
        return self.view.status

    @property
    def outcome(self) -> str:
        return str(self.view.state.get("outcome") or "")

    @property
    def reply(self) -> str:
        """What the agent answered the user ("" until the run has ended)."""
        return str(self.view.state.get("reply") or "")

    @property
    def results(self) -> list[dict[str, Any]]:
        """Each tool call's result: step, tool, arguments and outcome."""
        return [dict(r) for r in self.view.state.get("results", [])]

    @property
    def requests(self) -> tuple[Request, ...]:
        """What the run waits on a person for (none unless it is paused)."""
        return self.view.requests

    @property
    def waiting(self) -> bool:
        return bool(self.view.requests)

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL

    def __repr__(self) -> str:
        said = f": {self.outcome}" if self.outcome else ""
        asks = f", waiting on {len(self.requests)} request(s)" if self.waiting else ""
        return f"<run {self.run_id} {self.status}{said}{asks}>"


class RunResult(_Outcome):
    """A run ``Agent.run`` started, as it stands; its answers (``approve``, ``reject``,
    ``happened``) go through ``Runner.decide``, bound to the requests this result shows."""

    def __init__(
        self, runner: Runner, view: RunView, events: list[RunEvent], on_event: OnEvent | None
    ) -> None:
        self._runner: Runner | None = runner
        self.view = view
        self.events = events
        self._on_event = on_event

    async def approve(
        self, note: str = "", *, step: str | None = None, arguments: Mapping[str, Any] | None = None
    ) -> RunResult:
        """Approve the waiting calls (all, or that of ``step``; a call of unknown effect runs
        again); ``arguments`` edits the one call. Follows the run to its next stop."""
        return await self._answer(Answer.APPROVE, note=note, step=step, arguments=arguments)

    async def reject(
        self, note: str = "", *, step: str | None = None, stop: bool = False
    ) -> RunResult:
        """Reject the waiting calls: the run re-plans without them, or ends if ``stop``."""
        return await self._answer(Answer.STOP if stop else Answer.REJECT, note=note, step=step)

    async def happened(
        self, result: Any = None, *, note: str = "", step: str | None = None
    ) -> RunResult:
        """Say a call of unknown effect took effect, with ``result`` as its output."""
        return await self._answer(Answer.HAPPENED, note=note, step=step, result=result)

    async def close(self) -> None:
        """Let go of the Runner (a run still waiting stays saved and listed)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.close()

    async def __aenter__(self) -> RunResult:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _answer(self, answer: Answer, **given: Any) -> RunResult:
        runner = self._open()
        events = await runner.decide(self.run_id, answer, shown=self.requests, **given)
        await self._follow(runner, events)
        return self

    async def _follow(self, runner: Runner, events: AsyncIterator[RunEvent]) -> None:
        # Closed however the loop ends (an on_event callback may raise), so the run is let go.
        stream = cast(AsyncGenerator[RunEvent, None], events)
        async with contextlib.aclosing(stream):
            async for event in stream:
                self.events.append(event)
                if self._on_event is not None:
                    self._on_event(event)
        self.view = await runner.get(self.run_id)
        if self.ended:
            await self.close()

    def _open(self) -> Runner:
        if self._runner is None:
            raise _closed(self)
        return self._runner


class SyncRunResult(_Outcome):
    """``RunResult`` for code that does not await (``Agent.run_sync``)."""

    def __init__(
        self, runner: SyncRunner, view: RunView, events: list[RunEvent], on_event: OnEvent | None
    ) -> None:
        self._runner: SyncRunner | None = runner
        self.view = view
        self.events = events
        self._on_event = on_event

    def approve(
        self, note: str = "", *, step: str | None = None, arguments: Mapping[str, Any] | None = None
    ) -> SyncRunResult:
        """As ``RunResult.approve``."""
        return self._answer(Answer.APPROVE, note=note, step=step, arguments=arguments)

    def reject(
        self, note: str = "", *, step: str | None = None, stop: bool = False
    ) -> SyncRunResult:
        """As ``RunResult.reject``."""
        return self._answer(Answer.STOP if stop else Answer.REJECT, note=note, step=step)

    def happened(
        self, result: Any = None, *, note: str = "", step: str | None = None
    ) -> SyncRunResult:
        """As ``RunResult.happened``."""
        return self._answer(Answer.HAPPENED, note=note, step=step, result=result)

    def close(self) -> None:
        """As ``RunResult.close``."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.close()

    def __enter__(self) -> SyncRunResult:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _answer(self, answer: Answer, **given: Any) -> SyncRunResult:
        if self._runner is None:
            raise RuntimeError(f"the result of run {self.run_id} was closed: resume it anew")
        self._follow(
            self._runner, self._runner.decide(self.run_id, answer, shown=self.requests, **given)
        )
        return self

    def _follow(self, runner: SyncRunner, events: Iterator[RunEvent]) -> None:
        for event in events:
            self.events.append(event)
            if self._on_event is not None:
                self._on_event(event)
        self.view = runner.get(self.run_id)
        if self.ended:
            self.close()


def _closed(result: _Outcome) -> RunStateError:
    if result.ended:
        return RunStateError(
            f"run {result.run_id} has ended ({result.status}): there is nothing to answer"
        )
    return RunStateError(
        f"this result of run {result.run_id} was closed: the run is saved, waiting, and only a "
        "process with its agent can continue it (start runs from a reference, module:attr, to "
        "continue them anywhere)"
    )


def _start_options(
    script: str | Path | None, settings: Settings | None, given: Mapping[str, Any]
) -> tuple[Settings, dict[str, Any]]:
    options = dict(given)
    if script is not None:
        options["models"] = ModelSpec(kind="scripted", script=str(Path(script).resolve()))
    return settings or load_settings(), options


async def run_agent(
    agent: Agent,
    task: str,
    *,
    script: str | Path | None = None,
    settings: Settings | None = None,
    on_event: OnEvent | None = None,
    **start: Any,
) -> RunResult:
    """``Agent.run``: see there."""
    loaded, options = _start_options(script, settings, start)
    runner = await Runner(loaded).open()
    try:
        run_id, events = await runner.start(agent, task, **options)
        result = RunResult(runner, await runner.get(run_id), [], on_event)
        await result._follow(runner, events)
    except BaseException:
        await runner.close()
        raise
    return result


def run_agent_sync(
    agent: Agent,
    task: str,
    *,
    script: str | Path | None = None,
    settings: Settings | None = None,
    on_event: OnEvent | None = None,
    **start: Any,
) -> SyncRunResult:
    """``Agent.run_sync``: see there."""
    loaded, options = _start_options(script, settings, start)
    runner = SyncRunner(loaded)
    try:
        run_id, events = runner.start(agent, task, **options)
        result = SyncRunResult(runner, runner.get(run_id), [], on_event)
        result._follow(runner, events)
    except BaseException:
        runner.close()
        raise
    return result


__all__ = ["RunResult", "SyncRunResult", "run_agent", "run_agent_sync"]
