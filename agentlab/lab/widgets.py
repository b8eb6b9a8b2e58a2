"""What a notebook shows of a run: its requests as HTML, buttons that answer them with each
click's outcome under them, and a view of the run that follows it.

A click is answered by a task in the kernel's event loop that outlives the message carrying the
click, so what it prints reaches no cell: its outcome is written into an ``Output`` widget's
``outputs`` instead, and the run's display is an ``HTML`` widget whose value changes. Widgets'
state reaches the page from any code; ``display(..., display_id=...)`` updates would not, since
JupyterLab applies them only to the outputs of the cell being run.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentlab.errors import AgentlabError, ConfigError
from agentlab.lab.words import NOTEBOOK_WORDS
from agentlab.orchestration import Answer, Request
from agentlab.safe_text import html_text, visible

if TYPE_CHECKING:
    from agentlab.events import RunEvent
    from agentlab.lab.run import LabRun, OnEvent

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# What a button does, in the decision's note and in what the run says after it.
_DONE = {
    Answer.APPROVE: "approved",
    Answer.REJECT: "rejected",
    Answer.STOP: "stopped",
    Answer.HAPPENED: "said to have happened",
}


@dataclass(frozen=True)
class _Choice:
    button: Any
    answer: Answer
    shown: tuple[Request, ...]


def approval_buttons(run: LabRun) -> Any:
    """Approve / reject / stop buttons for each of ``run``'s requests (ipywidgets), its full
    arguments shown, and "approve all" when several approvals wait; under them, the outcome of
    a click (the events that followed, as the run's ``on_event`` prints them, or the error). A
    click answers the request its button shows, in the notebook's event loop."""
    widgets = _ipywidgets()
    requests = run.requests
    if not requests:
        return widgets.HTML(f"<p>run {html_text(run.run_id)} waits for no approval</p>")
    out = widgets.Output()
    rows: list[Any] = []
    choices: list[_Choice] = []
    for request in requests:
        unknown = request.unknown_effect
        row = [
            _Choice(
                widgets.Button(
                    description="Run it again" if unknown else "Approve", button_style="success"
                ),
                Answer.APPROVE,
                (request,),
            ),
            _Choice(
                widgets.Button(description="Reject, re-plan", button_style="warning"),
                Answer.REJECT,
                (request,),
            ),
            _Choice(
                widgets.Button(description="Reject and stop", button_style="danger"),
                Answer.STOP,
                (request,),
            ),
        ]
        if unknown:
            row.append(
                _Choice(
                    widgets.Button(description="It happened", button_style="info"),
                    Answer.HAPPENED,
                    (request,),
                )
            )
        choices += row
        rows += [widgets.HTML(request_html(request)), widgets.HBox([c.button for c in row])]
    approvals = tuple(r for r in requests if not r.unknown_effect)
    if len(approvals) > 1:
        every = widgets.Button(description=f"Approve all {len(approvals)}", button_style="success")
        choices.append(_Choice(every, Answer.APPROVE, approvals))
        rows.append(every)
    buttons = [c.button for c in choices]

    def click(choice: _Choice) -> Callable[[Any], None]:
        def on_click(_: Any) -> None:
            for b in buttons:
                b.disabled = True
            run._pending = asyncio.ensure_future(_decide(run, choice, buttons, out))

        return on_click

    for choice in choices:
        choice.button.on_click(click(choice))
    return widgets.VBox([*rows, out])


async def _decide(run: LabRun, choice: _Choice, buttons: list[Any], out: Any) -> LabRun:
    """Answer as ``choice`` says, writing into ``out`` what followed and where the run is now,
    or why the answer failed (the buttons come back if the run still waits for it)."""
    done = _DONE[choice.answer]
    try:
        await run._click(
            choice.answer,
            choice.shown,
            note=f"{done} in the notebook",
            done=f"{done} by a click",
            on_event=_printed_into(out, run.on_event),
        )
    except AgentlabError as exc:
        out.append_stdout(f"error: {visible(exc.worded(NOTEBOOK_WORDS))}\n")
        with contextlib.suppress(AgentlabError):  # then the run is as last read
            await run.refresh()
        waiting = {r.request_id for r in run.requests}
        if all(r.request_id in waiting for r in choice.shown):
            for b in buttons:
                b.disabled = False
    except Exception as exc:  # a bug: shown, and raised to whoever awaits it (run.settled())
        out.append_stdout(f"error: {type(exc).__name__}: {visible(exc)}\n")
        for b in buttons:
            b.disabled = False
        raise
    out.append_stdout(f"run {run.run_id} is now {run.status}\n")
    return run


def _printed_into(out: Any, on_event: OnEvent | None) -> OnEvent:
    """``on_event``, what it prints for each event appended to ``out``."""

    def show(event: RunEvent) -> None:
        if on_event is None:
            return
        printed = io.StringIO()
        # on_event is synchronous: no other task of the loop prints while stdout is swapped.
        with contextlib.redirect_stdout(printed):
            on_event(event)
        if printed.getvalue():
            out.append_stdout(printed.getvalue())

    return show


def live_html(value: str) -> Any:
    """An ``HTML`` widget showing ``value``, to change later (None without ipywidgets)."""
    try:
        import ipywidgets as widgets  # type: ignore[import-untyped]
    except ModuleNotFoundError:
        return None
    return widgets.HTML(value)


def widget_view(widget: Any) -> dict[str, Any]:
    """The MIME bundle entry by which a front end shows ``widget`` (itself, not a copy)."""
    return {WIDGET_VIEW: widget._repr_mimebundle_()[WIDGET_VIEW]}


def request_html(request: Request) -> str:
    """A request as HTML: the call, why it waits, its full arguments (``safe_text``: escaped,
    control and invisible characters shown; only the arguments take lines)."""
    arguments = json.dumps(request.arguments, indent=2, ensure_ascii=False, default=str)
    what = "did this call take effect?" if request.unknown_effect else "approval needed"
    return (
        f"<p><b>{what}</b>: {html_text(request.tool, lines=False)} (step "
        f"{html_text(f'{request.step_id}: {request.description}', lines=False)})<br>"
        f"why: {html_text(', '.join(request.reasons), lines=False)}</p>"
        f"<pre>{html_text(arguments)}</pre>"
    )


def _ipywidgets() -> Any:
    try:
        import ipywidgets as widgets
    except ModuleNotFoundError:
        raise ConfigError("approval buttons need ipywidgets: pip install 'agentlab[lab]'") from None
    return widgets
