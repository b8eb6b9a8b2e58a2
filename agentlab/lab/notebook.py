"""The notebook API: start runs of agents you define in the notebook, watch their events, decide
their approvals in a cell (or with buttons), and read them as pandas DataFrames.

A ``Lab`` opens the same data directory as the CLI by default, so a run started in a notebook
shows in ``agentlab runs`` and can be resumed from a shell, and the other way round::

    async with Lab() as lab:
        run = await lab.start(my_agent, "Close Ada's account", script="script.yaml")
        run                      # status, plan, pending approval, cost
        await run.approve()      # or run.approval_buttons()
        run.tool_calls()         # a DataFrame
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from agentlab.config import Settings, load_settings
from agentlab.errors import ConfigError, RunStateError
from agentlab.events import (
    ApprovalDecided,
    ApprovalRequested,
    RunEvent,
    StatusChanged,
    ToolCalled,
)
from agentlab.models.router import ModelSpec
from agentlab.orchestration import (
    Agent,
    Decision,
    Runner,
    RunView,
    decision_for,
    summarize,
    waiting_requests,
)
from agentlab.orchestration.summary import RunSummary
from agentlab.store import Feedback, RunRecord

if TYPE_CHECKING:
    import pandas as pd

    from agentlab.observability.feedback import FeedbackGiven

OnEvent = Callable[[RunEvent], None]


def print_event(event: RunEvent) -> None:
    """One line per event worth a person's attention (the default ``on_event``)."""
    match event:
        case StatusChanged(transition=t):
            print(f"{t['source']} -> {t['target']}: {t['reason']}")
        case ToolCalled(result=r):
            o = r["outcome"]
            said = json.dumps(o["output"], default=str) if o["ok"] else f"error: {o['error']}"
            print(f"  {r['tool']}({json.dumps(r['arguments'], default=str)}) -> {said[:200]}")
        case ApprovalRequested(request=req):
            print(f"  waiting for approval of {req['tool']}: {', '.join(req['reasons'])}")
        case ApprovalDecided(approved=ok, tool=tool, note=note):
            print(f"  {'approved' if ok else 'rejected'} {tool}" + (f" ({note})" if note else ""))


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
        self.runner = Runner(self.settings)

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
        run_id, events = await self.runner.start(
            agent, task, models=models, options=options, principal=principal, session=session
        )
        run = LabRun(self, run_id, on_event)
        await run._follow(events)
        return run

    async def run(self, run_id: str, *, on_event: OnEvent | None = print_event) -> LabRun:
        """A run already in the data directory (started here, by the CLI, or elsewhere)."""
        run = LabRun(self, run_id, on_event)
        await run.refresh()
        return run

    async def runs(self, limit: int = 50, *, feedback: str | None = None) -> pd.DataFrame:
        """The most recent runs, newest first (a run that cannot be read shows its problem), with
        the verdict people gave each; only those given ``feedback`` (good or bad), if set."""
        pd = _pandas()

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


class LabRun:
    """One run, as a notebook sees it: its events so far, its latest state, its decisions."""

    def __init__(self, lab: Lab, run_id: str, on_event: OnEvent | None) -> None:
        self.lab = lab
        self.run_id = run_id
        self.on_event = on_event
        self.events: list[RunEvent] = []
        self.view: RunView | None = None
        self._pending: asyncio.Task[LabRun] | None = None

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
        return await self.decide(self._answer(step, approve=True, note=note, arguments=arguments))

    async def reject(
        self, note: str = "", *, stop: bool = False, step: str | None = None
    ) -> LabRun:
        """Reject the waiting calls (all, or that of ``step``): the run re-plans without them,
        or ends if ``stop``."""
        return await self.decide(self._answer(step, note=note, stop=stop))

    async def happened(self, result: Any = None, note: str = "", step: str | None = None) -> LabRun:
        """Say the call of unknown effect took effect, with ``result`` as its output."""
        return await self.decide(self._answer(step, happened=True, result=result, note=note))

    async def decide(self, decision: Decision | list[Decision]) -> LabRun:
        """Resume with ``decision`` (or several): each must answer a request shown
        (``decision_for``)."""
        await self._follow(await self.lab.runner.resume(self.run_id, decision))
        return self

    def _answer(self, step: str | None, **answer: Any) -> Decision | list[Decision]:
        """Decisions bound to the requests this notebook last showed (all, or that of ``step``):
        if the run has moved on since (another process decided), the runner refuses them."""
        if self.waiting_for is None:
            raise RunStateError(
                f"run {self.run_id} waits for no decision here: refresh() reads its latest state"
            )
        requests = waiting_requests(self.waiting_for)
        chosen = [r for r in requests if step is None or r["step_id"] == step]
        if not chosen:
            steps = ", ".join(str(r["step_id"]) for r in requests)
            raise RunStateError(f"run {self.run_id} waits on step(s) {steps}, not step {step}")
        if answer.get("arguments") is not None and len(chosen) > 1:
            raise RunStateError(
                f"edited arguments are for one call and {len(chosen)} wait: say which, step=..."
            )
        decisions = [decision_for(r, **answer) for r in chosen]
        return decisions[0] if len(decisions) == 1 else decisions

    async def resume(self) -> LabRun:
        """Continue a run that stopped without waiting for a human (e.g. its process died)."""
        await self._follow(await self.lab.runner.resume(self.run_id))
        return self

    async def refresh(self) -> LabRun:
        self.view = await self.lab.runner.get(self.run_id)
        return self

    async def _follow(self, events: AsyncIterator[RunEvent]) -> None:
        # Closed however the loop ends (an on_event callback may raise), so the run is let go.
        async with contextlib.aclosing(cast(AsyncGenerator[RunEvent, None], events)) as stream:
            async for event in stream:
                self.events.append(event)
                if self.on_event is not None:
                    self.on_event(event)
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
    def waiting_for(self) -> dict[str, Any] | None:
        """The call waiting for a human's decision, with its full arguments, or ``None``."""
        return self.view.waiting_for if self.view else None

    @property
    def summary(self) -> RunSummary:
        assert self.view is not None
        return summarize(self.view.state, self.view.limits)

    def plan(self) -> pd.DataFrame:
        """The current plan: one row per step."""
        pd = _pandas()

        columns = ["id", "description", "tool", "arguments", "destructive", "estimated_cost_usd"]
        return pd.DataFrame(self._state.get("plan", []), columns=columns)

    def transitions(self) -> pd.DataFrame:
        """Every status change and why it happened."""
        pd = _pandas()

        columns = ["iteration", "source", "target", "node", "reason"]
        return pd.DataFrame(self._state.get("transitions", []), columns=columns)

    def tool_calls(self) -> pd.DataFrame:
        """Every tool call: arguments, whether it worked, its output or error."""
        pd = _pandas()

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
        pd = _pandas()

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

        pd = _pandas()
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
            return f"<b>run {html.escape(self.run_id)}</b> (not read yet)"
        s = self.summary
        cost = "unknown" if s.cost_usd is None else f"${s.cost_usd:.4f}"
        if s.scripted:
            cost += " (scripted: no LLM was called)"
        parts = [
            f"<h4>run {html.escape(self.run_id)}: {html.escape(s.status)}</h4>",
            f"<p>{html.escape(self.view.record.task)}</p>",
            f"<p>{s.steps_ok} step(s) ok, {s.steps_failed} failed · {s.model_calls} model "
            f"call(s) · cost {html.escape(cost)}</p>",
        ]
        if s.outcome:
            parts.append(f"<p><i>{html.escape(s.outcome)}</i></p>")
        if self._state.get("plan"):
            parts.append(self.plan().to_html(index=False))
        if self.waiting_for:
            parts += [_approval_html(r) for r in waiting_requests(self.waiting_for)]
        return "\n".join(parts)

    # --- deciding with buttons ----------------------------------------------------------------

    def approval_buttons(self) -> Any:
        """Approve / reject / stop buttons for each waiting call (ipywidgets), its full arguments
        shown, and "approve all" when several wait. Each click resumes the run in the notebook's
        event loop."""
        try:
            import ipywidgets as widgets  # type: ignore[import-untyped]
        except ModuleNotFoundError:
            raise ConfigError(
                "approval buttons need ipywidgets: pip install 'agentlab[lab]'"
            ) from None

        waiting = self.waiting_for
        if waiting is None:
            return widgets.HTML(f"<p>run {html.escape(self.run_id)} waits for no approval</p>")
        out = widgets.Output()
        requests = waiting_requests(waiting)
        rows: list[Any] = []
        choices: list[tuple[Any, Decision | list[Decision]]] = []
        for request in requests:
            unknown = request.get("kind") == "unknown_side_effect"
            row = [
                (
                    widgets.Button(
                        description="Run it again" if unknown else "Approve",
                        button_style="success",
                    ),
                    decision_for(request, approve=True, note="approved in the notebook"),
                ),
                (
                    widgets.Button(description="Reject, re-plan", button_style="warning"),
                    decision_for(request, note="rejected in the notebook"),
                ),
                (
                    widgets.Button(description="Reject and stop", button_style="danger"),
                    decision_for(request, note="stopped in the notebook", stop=True),
                ),
            ]
            if unknown:
                row.append(
                    (
                        widgets.Button(description="It happened", button_style="info"),
                        decision_for(
                            request, happened=True, note="said to have happened in the notebook"
                        ),
                    )
                )
            choices += row
            rows += [widgets.HTML(_approval_html(request)), widgets.HBox([b for b, _ in row])]
        approvals = [r for r in requests if r.get("kind") == "approval"]
        if len(approvals) > 1:
            every = widgets.Button(
                description=f"Approve all {len(approvals)}", button_style="success"
            )
            choices.append(
                (
                    every,
                    [
                        decision_for(r, approve=True, note="approved in the notebook")
                        for r in approvals
                    ],
                )
            )
            rows.append(every)
        buttons = [b for b, _ in choices]

        def click(decision: Decision | list[Decision]) -> Callable[[Any], None]:
            def on_click(_: Any) -> None:
                for b in buttons:
                    b.disabled = True

                async def decide() -> LabRun:
                    with out:
                        try:
                            return await self.decide(decision)
                        except Exception as exc:  # shown under the buttons, which come back
                            print(f"error: {type(exc).__name__}: {exc}")
                            for b in buttons:
                                b.disabled = False
                            raise

                self._pending = asyncio.ensure_future(decide())

            return on_click

        for button, decision in choices:
            button.on_click(click(decision))
        return widgets.VBox([*rows, out])

    async def settled(self) -> LabRun:
        """Wait for the decision a button started (useful in tests and scripts)."""
        if self._pending is not None:
            await self._pending
        return self


def _verdict(feedback: Feedback | None) -> list[str | None]:
    return [None, None] if feedback is None else [feedback.score, feedback.comment]


def _pandas() -> Any:
    """pandas, or an error saying how to get it (it comes with the ``lab`` extra)."""
    try:
        import pandas
    except ModuleNotFoundError:
        raise ConfigError(
            "reading runs as DataFrames needs pandas: pip install 'agentlab[lab]'"
        ) from None
    return pandas


def _approval_html(waiting: Mapping[str, Any]) -> str:
    arguments = json.dumps(waiting["arguments"], indent=2, ensure_ascii=False, default=str)
    return (
        f"<p><b>approval needed</b>: {html.escape(waiting['tool'])} (step "
        f"{html.escape(waiting['step_id'])}: {html.escape(waiting['description'])})<br>"
        f"why: {html.escape(', '.join(waiting['reasons']))}</p>"
        f"<pre>{html.escape(arguments)}</pre>"
    )
