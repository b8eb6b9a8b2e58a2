"""The notebook's handle on agentlab: ``Lab`` opens a data directory and starts and finds runs.

A ``Lab`` opens the same data directory as the CLI by default, so a run started in a notebook
shows in ``agentlab runs`` and can be resumed from a shell, and the other way round::

    async with Lab() as lab:
        run = await lab.start(my_agent, "Close Ada's account", script="script.yaml")
        run                      # status, plan, pending approval, cost
        await run.approve()      # or run.approval_buttons()
        run.tool_calls()         # a DataFrame
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentlab.config import Settings, load_settings
from agentlab.events import (
    ApprovalDecided,
    ApprovalRequested,
    Escalated,
    Replied,
    ReplyDelta,
    RunEvent,
    StatusChanged,
    ToolCalled,
)
from agentlab.lab.frames import pandas_or_hint
from agentlab.lab.run import LabRun, OnEvent
from agentlab.lab.session import LabSession, new_session_id, session_models
from agentlab.lab.words import in_notebook_words
from agentlab.models.router import ModelSpec
from agentlab.orchestration import Agent, Runner
from agentlab.orchestration.context import default_principal
from agentlab.orchestration.identity import Identity
from agentlab.safe_text import visible
from agentlab.store import Feedback, RunRecord

if TYPE_CHECKING:
    import pandas as pd


def print_event(event: RunEvent) -> None:
    """One line per event worth a person's attention (the default ``on_event``). What came
    from outside is made visible (``safe_text``): a notebook's output obeys ANSI escapes too."""
    match event:
        case StatusChanged(transition=t):
            print(visible(f"{t['source']} -> {t['target']}: {t['reason']}", lines=False))
        case Escalated(role=role, from_model=before, to_model=after, reason=reason):
            print(visible(f"  escalated {role}: {before} -> {after} ({reason})", lines=False))
        case ToolCalled(result=r):
            o = r["outcome"]
            said = json.dumps(o["output"], default=str) if o["ok"] else f"error: {o['error']}"
            line = f"  {r['tool']}({json.dumps(r['arguments'], default=str)}) -> {said[:200]}"
            print(visible(line, lines=False))
        case ApprovalRequested(request=req):
            line = f"  waiting for approval of {req['tool']}: {', '.join(req['reasons'])}"
            print(visible(line, lines=False))
        case ApprovalDecided(approved=ok, tool=tool, note=note):
            line = f"  {'approved' if ok else 'rejected'} {tool}" + (f" ({note})" if note else "")
            print(visible(line, lines=False))
        case ReplyDelta(text=text):
            print(visible(text), end="", flush=True)
        case Replied(reply=reply, streamed=True):
            print()  # the end of the reply printed as it arrived
        case Replied(reply=reply):
            print(f"reply: {visible(reply)}")


class Lab:
    """A notebook's handle on agentlab: a data directory and the runs in it."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        data_dir: str | Path | None = None,
        config: str | Path | None = None,
    ) -> None:
        # The same settings as the CLI (AGENTLAB_CONFIG's file, the environment) unless given.
        self.settings = settings or load_settings(config, data_dir=data_dir)
        # The notebook's user acts here, with the rights the configuration gives them.
        user = default_principal()
        self.runner = Runner(self.settings, identity=Identity(user, user, via="notebook"))

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    async def open(self) -> Lab:
        await self.runner.open()
        return self

    async def close(self) -> None:
        await self.runner.close()

    def flush_traces(self) -> None:
        """Export the spans still batched (a closed ``Lab`` has exported them all)."""
        self.runner.tracing.flush()

    async def __aenter__(self) -> Lab:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(
        self,
        agent: Agent | str | None,
        task: str,
        *,
        script: str | Path | None = None,
        models: ModelSpec | None = None,
        options: Mapping[str, Any] | None = None,
        principal: str | None = None,
        session: str | None = None,
        on_event: OnEvent | None = print_event,
    ) -> LabRun:
        """Start ``task`` with ``agent`` (an ``Agent`` or a reference) and follow it until it ends
        or waits for a human. ``script`` replays a scripted model; ``on_event`` sees each event."""
        if script is not None:
            models = ModelSpec(kind="scripted", script=str(Path(script).resolve()))
        with in_notebook_words():
            run_id, events = await self.runner.start(
                agent, task, models=models, options=options, principal=principal, session=session
            )
        run = LabRun(self, run_id, on_event)
        await run._follow(events)
        return run

    def session(
        self,
        agent: Agent | str | None = None,
        id: str | None = None,
        *,
        script: str | Path | None = None,
        models: ModelSpec | None = None,
        principal: str | None = None,
        on_event: OnEvent | None = print_event,
    ) -> LabSession:
        """A conversation with ``agent``: a new one, or the session ``id`` to go on with (its
        agent, when ``agent`` is not given). ``script`` replays a scripted model across the
        session's turns, in order."""
        return LabSession(
            self,
            agent,
            id or new_session_id(),
            models=session_models(script, models),
            principal=principal,
            on_event=on_event,
        )

    async def run(self, run_id: str, *, on_event: OnEvent | None = print_event) -> LabRun:
        """A run already in the data directory (started here, by the CLI, or elsewhere)."""
        run = LabRun(self, run_id, on_event)
        await run.refresh()
        return run

    async def runs(self, limit: int = 50, *, feedback: str | None = None) -> pd.DataFrame:
        """The most recent runs, newest first (a run that cannot be read shows its problem), with
        the verdict people gave each; only those given ``feedback`` (good or bad), if set."""
        pd = pandas_or_hint()

        if feedback is not None:
            from agentlab.observability.feedback import check_score

            check_score(feedback)
        listed = await self.runner.list(limit, feedback=feedback)
        columns = ["run_id", "status", "agent_name", "principal", "session", "task", "updated_at"]
        rows = [
            [getattr(r, c, None) for c in columns] + _verdict(r.feedback)
            if isinstance(r, RunRecord)
            else [r.run_id, f"damaged: {r.problem}", *[None] * (len(columns) - 2), None, None]
            for r in listed
        ]
        return pd.DataFrame(rows, columns=[*columns, "feedback", "feedback_comment"])


def _verdict(feedback: Feedback | None) -> list[str | None]:
    return [None, None] if feedback is None else [feedback.score, feedback.comment]
