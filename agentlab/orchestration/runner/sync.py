"""``SyncRunner``: the ``Runner`` for code that does not await (scripts and the CLI)."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from agentlab.config import Settings
from agentlab.errors import AgentlabError
from agentlab.events import RunEvent
from agentlab.memory.conversation import ConversationTurn
from agentlab.orchestration.agent import Agent
from agentlab.orchestration.identity import Identity
from agentlab.orchestration.requests import Answer, Decision, Request
from agentlab.orchestration.runner.runs import Runner
from agentlab.orchestration.runner.view import RunView
from agentlab.store import CostTotal, DamagedRun, LedgerEntry, RunRecord, RunStore, SessionRecord

if TYPE_CHECKING:
    from agentlab.observability.feedback import FeedbackGiven

T = TypeVar("T")


class SyncRunner:
    """``Runner`` for code that does not await: scripts and the CLI. Not for use inside a running
    event loop (in a notebook, ``await`` the ``Runner`` instead); every method is the
    ``Runner``'s, and streams of events are plain iterators."""

    def __init__(self, settings: Settings, *, identity: Identity | None = None) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise AgentlabError(
                "SyncRunner (and run_sync) cannot run inside a running event loop, such as a "
                "notebook's: await the Runner (or the agent's run) there instead"
            )
        self._loop = asyncio.Runner()
        self.runner = Runner(settings, identity=identity)
        try:
            self._loop.run(self.runner.open())
        except BaseException:
            self._loop.close()
            raise

    def __enter__(self) -> SyncRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._loop.run(self.runner.close())
        finally:
            self._loop.close()

    @property
    def store(self) -> RunStore:
        return self.runner.store

    @property
    def where(self) -> str:
        return self.runner.where

    def start(
        self, agent: str | Agent | None, task: str, **kwargs: Any
    ) -> tuple[str, Iterator[RunEvent]]:
        """As ``Runner.start``; the events are a plain iterator."""
        run_id, events = self._loop.run(self.runner.start(agent, task, **kwargs))
        return run_id, self._iterate(events)

    def resume(
        self,
        run_id: str,
        decision: Decision | list[Decision] | None = None,
        *,
        force: bool = False,
    ) -> Iterator[RunEvent]:
        return self._iterate(self._loop.run(self.runner.resume(run_id, decision, force=force)))

    def decide(
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
    ) -> Iterator[RunEvent]:
        """As ``Runner.decide``."""
        events = self.runner.decide(
            run_id,
            answer,
            shown=shown,
            step=step,
            note=note,
            arguments=arguments,
            result=result,
            every=every,
            force=force,
            via=via,
        )
        return self._iterate(self._loop.run(events))

    def get(self, run_id: str) -> RunView:
        return self._loop.run(self.runner.get(run_id))

    def ledger(self, run_id: str) -> list[LedgerEntry]:
        return self._loop.run(self.runner.ledger(run_id))

    def killed(self, run_id: str) -> str | None:
        return self._loop.run(self.runner.killed(run_id))

    def cost_totals(self, by: str, since_day: str | None = None) -> list[CostTotal]:
        return self._loop.run(self.runner.cost_totals(by, since_day))

    def kill(self, run_id: str) -> RunRecord:
        return self._loop.run(self.runner.kill(run_id))

    def kill_all(self, principal: str) -> list[RunRecord]:
        return self._loop.run(self.runner.kill_all(principal))

    def feedback(self, run_id: str, score: str, **kwargs: Any) -> FeedbackGiven:
        """As ``Runner.feedback``."""
        return self._loop.run(self.runner.feedback(run_id, score, **kwargs))

    def check(self) -> list[str]:
        return self._loop.run(self.runner.check())

    def list(self, limit: int = 50, *, feedback: str | None = None) -> list[RunRecord | DamagedRun]:
        return self._loop.run(self.runner.list(limit, feedback=feedback))

    def sessions(self, limit: int = 50) -> builtins.list[SessionRecord]:
        return self._loop.run(self.runner.sessions(limit))

    def session(self, session_id: str) -> SessionRecord:
        return self._loop.run(self.runner.session(session_id))

    def open_turns(self, session_id: str) -> builtins.list[RunRecord]:
        return self._loop.run(self.runner.open_turns(session_id))

    def turns(self, session_id: str) -> builtins.list[ConversationTurn]:
        return self._loop.run(self.runner.turns(session_id))

    def _iterate(self, events: AsyncIterator[T]) -> Iterator[T]:
        try:
            while True:
                try:
                    yield self._loop.run(_next(events))
                except StopAsyncIteration:
                    return
        finally:  # the driver stopped early (an error, Ctrl-C): the run is let go now
            closing = getattr(events, "aclose", None)
            if closing is not None:
                with contextlib.suppress(RuntimeError):  # the runner was closed before
                    self._loop.run(closing())


async def _next(events: AsyncIterator[T]) -> T:
    return await anext(events)
