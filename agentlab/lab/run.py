"""One run as a notebook sees it: its events, its latest state as DataFrames, its decisions.

A person's answer (``approve``, ``reject``, ``happened``) goes through ``Runner.decide``, bound
to the requests this notebook last showed: if the run has moved on since, it is refused. Errors
say what to do in the notebook's words (``words.py``). An answer in a cell after a button decided
the run, or after the run ended, says so in a line instead of deciding anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from agentlab.errors import Fix, RunStateError
from agentlab.events import RunEvent
from agentlab.lab import widgets
from agentlab.lab.frames import pandas_or_hint
from agentlab.lab.words import NOTEBOOK_WORDS, in_notebook_words
from agentlab.orchestration import Answer, Decision, Request, RunView, summarize
from agentlab.orchestration.state import TERMINAL
from agentlab.orchestration.summary import RunSummary
from agentlab.safe_text import html_text, visible

if TYPE_CHECKING:
    import pandas as pd

    from agentlab.lab.lab import Lab
    from agentlab.observability.feedback import FeedbackGiven

OnEvent = Callable[[RunEvent], None]


class LabRun:
    """One run, as a notebook sees it: its events so far, its latest state, its decisions."""

    def __init__(self, lab: Lab, run_id: str, on_event: OnEvent | None) -> None:
        self.lab = lab
        self.run_id = run_id
        self.on_event = on_event
        self.events: list[RunEvent] = []
        self.view: RunView | None = None
        self._pending: asyncio.Task[LabRun] | None = None  # a button's answer, under way
        self._clicked: str | None = None  # what a button decided, until a cell hears of it
        self._live: Any = None  # the widget every display of the run shows (with ipywidgets)

    # --- driving ------------------------------------------------------------------------------

    async def approve(
        self,
        note: str = "",
        *,
        arguments: dict[str, Any] | None = None,
        step: str | None = None,
    ) -> LabRun:
        """Approve the calls this notebook shows the run waiting for (all of them, or that of
        ``step``; for a call of unknown effect: run it again), and follow the run to its next
        stop. ``arguments`` edits the call: it runs, and is recorded, with those instead."""
        return await self.answer(Answer.APPROVE, note=note, arguments=arguments, step=step)

    async def reject(
        self, note: str = "", *, stop: bool = False, step: str | None = None
    ) -> LabRun:
        """Reject the waiting calls (all, or that of ``step``): the run re-plans without them,
        or ends if ``stop``."""
        return await self.answer(Answer.STOP if stop else Answer.REJECT, note=note, step=step)

    async def happened(self, result: Any = None, note: str = "", step: str | None = None) -> LabRun:
        """Say the call of unknown effect took effect, with ``result`` as its output."""
        return await self.answer(Answer.HAPPENED, note=note, result=result, step=step)

    async def answer(
        self,
        answer: Answer | str,
        *,
        shown: Sequence[Request] | None = None,
        note: str = "",
        step: str | None = None,
        arguments: dict[str, Any] | None = None,
        result: Any = None,
        every: bool = False,
    ) -> LabRun:
        """Answer the requests this notebook last showed (or ``shown``), through
        ``Runner.decide``, and follow the run to its next stop (``every``: one approve or
        happened for several calls of unknown effect).

        If a button decided the run since (``approval_buttons``), or the run has ended, nothing
        is decided: a line says so, and the run is read again."""
        if await self._decided_by_click():
            return self
        try:
            with in_notebook_words():
                events = await self.lab.runner.decide(
                    self.run_id,
                    answer,
                    shown=self.requests if shown is None else shown,
                    step=step,
                    note=note,
                    arguments=arguments,
                    result=result,
                    every=every,
                )
        except RunStateError:
            await self.refresh()
            if self.status not in TERMINAL:
                raise
            ended = f"nothing to decide: run {self.run_id} has already ended ({self.status})"
            print(visible(ended))
            return self
        await self._follow(events)
        return self

    async def _click(
        self,
        answer: Answer,
        shown: Sequence[Request],
        *,
        note: str,
        done: str,
        on_event: OnEvent,
    ) -> None:
        """A button's answer to ``shown``, its events to ``on_event``; ``done`` (such as
        "approved by a click") is what the next answer in a cell says decided the run."""
        with in_notebook_words():
            events = await self.lab.runner.decide(self.run_id, answer, shown=shown, note=note)
        self._clicked = done
        await self._follow(events, on_event)

    async def _decided_by_click(self) -> bool:
        """Whether a button decided the run since the last answer in a cell (after waiting for
        a click under way): then say so, once, and read the run again."""
        if self._pending is not None and self._pending is not asyncio.current_task():
            with contextlib.suppress(Exception):  # its error is shown under the buttons
                await self._pending
        clicked, self._clicked = self._clicked, None
        if clicked is None:
            return False
        await self.refresh()
        line = f"run {self.run_id} was already decided ({clicked}): it is now {self.status}"
        if self.requests:
            waiting = ", ".join(r.describe() for r in self.requests)
            line += f", waiting for {waiting}: {NOTEBOOK_WORDS[Fix.DECIDE]}"
        print(visible(line))
        return True

    async def decide(self, decision: Decision | list[Decision]) -> LabRun:
        """Resume with ``decision`` (or several), each bound to a request shown
        (``decision_for``)."""
        with in_notebook_words():
            events = await self.lab.runner.resume(self.run_id, decision)
        await self._follow(events)
        return self

    async def resume(self, *, force: bool = False) -> LabRun:
        """Continue a run that stopped without waiting for a human (e.g. its process died);
        ``force`` takes it over from a process of this machine stopped or hung past its lease."""
        with in_notebook_words():
            events = await self.lab.runner.resume(self.run_id, force=force)
        await self._follow(events)
        return self

    async def refresh(self) -> LabRun:
        """Read the run again (every display of it shows what was read)."""
        self.view = await self.lab.runner.get(self.run_id)
        if self._live is not None:
            self._live.value = self._repr_html_()
        return self

    async def _follow(
        self, events: AsyncIterator[RunEvent], on_event: OnEvent | None = None
    ) -> None:
        """Follow ``events`` to the run's next stop, each to ``on_event`` (the run's own by
        default), then read the run."""
        on_event = on_event or self.on_event
        # Closed however the loop ends (an on_event callback may raise), so the run is let go.
        async with contextlib.aclosing(cast(AsyncGenerator[RunEvent, None], events)) as stream:
            async for event in stream:
                self.events.append(event)
                if on_event is not None:
                    on_event(event)
        await self.refresh()

    # --- reading ------------------------------------------------------------------------------

    @property
    def _state(self) -> dict[str, Any]:
        if self.view is None:
            raise RuntimeError("the run has not been read yet: await run.refresh()")
        return self.view.state

    @property
    def status(self) -> str:
        return self.view.status if self.view else "unknown"

    @property
    def reply(self) -> str:
        """The run's reply to the user ("" until the run has ended)."""
        return str(self.view.state.get("reply") or "") if self.view else ""

    @property
    def requests(self) -> tuple[Request, ...]:
        """What the run waits on a person for (its calls, with their full arguments), as last
        read; none unless it is paused."""
        return self.view.requests if self.view else ()

    @property
    def summary(self) -> RunSummary:
        assert self.view is not None
        return summarize(self.view.state, self.view.limits)

    def plan(self) -> pd.DataFrame:
        """The current plan: one row per step."""
        pd = pandas_or_hint()

        columns = ["id", "description", "tool", "arguments", "destructive", "estimated_cost_usd"]
        return pd.DataFrame(self._state.get("plan", []), columns=columns)

    def transitions(self) -> pd.DataFrame:
        """Every status change and why it happened."""
        pd = pandas_or_hint()

        columns = ["iteration", "source", "target", "node", "reason"]
        return pd.DataFrame(self._state.get("transitions", []), columns=columns)

    def tool_calls(self) -> pd.DataFrame:
        """Every tool call: arguments, whether it worked, its output or error."""
        pd = pandas_or_hint()

        rows = [
            {
                "step_id": r["step_id"],
                "tool": r["tool"],
                "arguments": r["arguments"],
                "ok": r["outcome"]["ok"],
                "output": r["outcome"]["output"],
                "error": r["outcome"]["error"],
            }
            for r in self._state.get("results", [])
        ]
        columns = ["step_id", "tool", "arguments", "ok", "output", "error"]
        return pd.DataFrame(rows, columns=columns)

    def model_calls(self) -> pd.DataFrame:
        """Every model call: role, model, tokens, cost (``NaN`` when the price is unknown)."""
        pd = pandas_or_hint()

        columns = [
            "role",
            "index",
            "model",
            "provider",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "cost_usd",
            "latency_s",
        ]
        return pd.DataFrame(self._state.get("model_calls", []), columns=columns)

    async def costs(self) -> pd.DataFrame:
        """The run's cost ledger per phase (plan, replan, prepare, validate) and in ``total``:
        calls, tokens, dollars (``NaN`` when a price is unknown) and cache hit rate."""
        from agentlab.observability.ledger import phase_costs

        pd = pandas_or_hint()
        entries = await self.lab.runner.ledger(self.run_id)
        rows = [
            {**dataclasses.asdict(p), "cache_hit_rate": p.cache_hit_rate}
            for p in phase_costs(entries)
        ]
        return pd.DataFrame(rows)

    async def spans(self, phoenix_url: str, *, project: str | None = None) -> pd.DataFrame:
        """The run's trace as Phoenix at ``phoenix_url`` holds it: one row per span (run, nodes,
        model and tool calls), oldest first. Needs Phoenix's client (the ``lab`` extra)."""
        from agentlab.observability.traces import read_trace, trace_id_of

        trace_id = trace_id_of(self._state)
        if trace_id is None:
            raise RunStateError(
                f"run {self.run_id} was not traced: set otlp_endpoint (AGENTLAB_OTLP_ENDPOINT) "
                "before starting runs"
            )
        return await asyncio.to_thread(
            read_trace,
            phoenix_url,
            trace_id,
            project=project or self.lab.settings.trace_project,
        )

    async def feedback(
        self,
        score: str,
        *,
        comment: str = "",
        by: str | None = None,
        phoenix_url: str | None = None,
    ) -> FeedbackGiven:
        """Give the run a person's verdict, ``good`` or ``bad`` (``by``: default the OS user),
        replacing any given before. It is kept with the run (``Lab.runs(feedback=...)``) and, if
        the run was traced, attached to its root span in Phoenix (at ``phoenix_url``, default:
        where runs export their spans) as a ``user feedback`` annotation; the answer says
        whether it was, and if not, why."""
        from agentlab.observability.feedback import phoenix_url_for

        given = await self.lab.runner.feedback(
            self.run_id,
            score,
            comment=comment,
            by=by,
            phoenix_url=phoenix_url or phoenix_url_for(self.lab.settings.otlp_endpoint),
        )
        await self.refresh()
        return given

    def _repr_html_(self) -> str:
        if self.view is None:
            return f"<b>run {html_text(self.run_id)}</b> (not read yet)"
        s = self.summary
        cost = "unknown" if s.cost_usd is None else f"${s.cost_usd:.4f}"
        if s.scripted:
            cost += " (scripted: no LLM was called)"
        # Everything from the run goes through safe_text: escaped, control characters shown.
        parts = [
            f"<h4>run {html_text(self.run_id)}: {html_text(s.status)}</h4>",
            f"<p>{html_text(self.view.record.task)}</p>",
            f"<p>{s.steps_ok} step(s) ok, {s.steps_failed} failed · {s.model_calls} model "
            f"call(s) · cost {html_text(cost)}</p>",
        ]
        if s.outcome:
            parts.append(f"<p><i>{html_text(s.outcome)}</i></p>")
        if self.reply:
            parts.append(f"<p><b>reply:</b> {html_text(self.reply)}</p>")
        if self._state.get("plan"):
            plan = self.plan().map(
                lambda v: v if isinstance(v, bool | int | float) else visible(v, lines=False)
            )
            parts.append(plan.to_html(index=False, escape=True))
        parts += [widgets.request_html(r) for r in self.requests]
        return "\n".join(parts)

    def _repr_mimebundle_(self, **_: Any) -> dict[str, Any]:
        # With ipywidgets, a display is also an HTML widget the run updates whenever it is read
        # (after a click, or an answer in a later cell); a front end without widgets shows the
        # HTML as it was.
        shown = self._repr_html_()
        if self._live is None:
            self._live = widgets.live_html(shown)
        if self._live is None:
            return {"text/html": shown}
        return {"text/html": shown, **widgets.widget_view(self._live)}

    # --- deciding with buttons ----------------------------------------------------------------

    def approval_buttons(self) -> Any:
        """Approve / reject / stop buttons for each waiting call (ipywidgets), its full arguments
        shown, and "approve all" when several wait. Each click resumes the run in the notebook's
        event loop; what followed (or the error) shows under the buttons, and displays of the
        run change with it. A later ``await run.approve()`` says the run was already decided."""
        return widgets.approval_buttons(self)

    async def settled(self) -> LabRun:
        """Wait for the decision a button started (useful in tests and scripts)."""
        if self._pending is not None:
            await self._pending
        return self
