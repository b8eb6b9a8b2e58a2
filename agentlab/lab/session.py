"""A conversation in a notebook: ``lab.session(agent)`` and ``await session.send(message)``.

Each message is a turn: a run of the agent that sees the session's earlier turns and ends with a
reply. The session lives in the runs database, so ``agentlab sessions show ID`` prints it and
``agentlab run --session ID`` or ``agentlab chat --session ID`` go on with it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, cast

from agentlab.events import Replied, ReplyDelta, RunEvent
from agentlab.lab.frames import pandas_or_hint
from agentlab.lab.run import LabRun, OnEvent
from agentlab.lab.words import in_notebook_words
from agentlab.models.router import ModelSpec
from agentlab.orchestration import Agent
from agentlab.safe_text import html_text

if TYPE_CHECKING:
    import pandas as pd

    from agentlab.lab.lab import Lab


def new_session_id() -> str:
    """A fresh session id."""
    return f"ses-{uuid.uuid4().hex[:10]}"


class LabSession:
    """One conversation with an agent, as a notebook holds it."""

    def __init__(
        self,
        lab: Lab,
        agent: Agent | str | None,
        session_id: str,
        *,
        models: ModelSpec | None,
        principal: str | None,
        on_event: OnEvent | None,
    ) -> None:
        self.lab = lab
        self.agent = agent
        self.id = session_id
        self.models = models
        self.principal = principal
        self.on_event = on_event
        self.runs: list[LabRun] = []

    async def send(self, message: str) -> LabRun:
        """Add ``message`` as the session's next turn and follow its run until it ends (its
        ``reply``, printed as it arrives by the default ``on_event``) or waits for a person
        (``approve()`` it, then read ``reply``)."""
        run = await self.lab.start(
            self.agent,
            message,
            models=self.models,
            principal=self.principal,
            session=self.id,
            on_event=self.on_event,
        )
        self.runs.append(run)
        return run

    async def stream(self, message: str) -> AsyncIterator[str]:
        """Add ``message`` as the next turn and yield the reply's pieces as they arrive
        (``async for piece in session.stream(...)``; a reply written from the run's record
        comes whole); the turn's run is then ``runs[-1]``. ``on_event`` sees the other events."""
        with in_notebook_words():
            run_id, events = await self.lab.runner.start(
                self.agent, message, models=self.models, principal=self.principal, session=self.id
            )
        run = LabRun(self.lab, run_id, self.on_event)
        self.runs.append(run)
        async with contextlib.aclosing(cast(AsyncGenerator[RunEvent, None], events)) as stream:
            async for event in stream:
                run.events.append(event)
                # The reply is the caller's to show, not on_event's too: its pieces, or whole
                # when it was not streamed (written from the run's record).
                if isinstance(event, ReplyDelta):
                    yield event.text
                elif isinstance(event, Replied):
                    if not event.streamed:
                        yield event.reply
                elif self.on_event is not None:
                    self.on_event(event)
        await run.refresh()

    async def turns(self) -> pd.DataFrame:
        """The conversation so far: one row per turn (message, reply, status, run, tokens)."""
        pd = pandas_or_hint()
        turns = await self.lab.runner.turns(self.id)
        columns = ["number", "message", "reply", "status", "run_id", "tokens", "created_at"]
        rows = [dict(t) for t in turns]
        return pd.DataFrame([{c: row[c] for c in columns} for row in rows], columns=columns)

    def _repr_html_(self) -> str:
        last = self.runs[-1].reply if self.runs else ""
        said = f"<p>last reply: {html_text(last)}</p>" if last else ""
        return f"<b>session {html_text(self.id)}</b> ({len(self.runs)} turn(s) here){said}"


def session_models(script: str | Path | None, models: ModelSpec | None) -> ModelSpec | None:
    """The model spec of a session's turns: a script replayed turn after turn, else ``models``."""
    if script is not None:
        return ModelSpec(kind="scripted", script=str(Path(script).resolve()))
    return models
