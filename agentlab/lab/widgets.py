"""What a notebook shows of a paused run: its requests as HTML, and buttons that answer them."""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agentlab.errors import ConfigError
from agentlab.orchestration import Answer, Request

if TYPE_CHECKING:
    from agentlab.lab.run import LabRun


def approval_buttons(run: LabRun) -> Any:
    """Approve / reject / stop buttons for each of ``run``'s requests (ipywidgets), its full
    arguments shown, and "approve all" when several approvals wait. A click answers through
    ``LabRun.answer``, bound to the request the button shows, in the notebook's event loop."""
    try:
        import ipywidgets as widgets  # type: ignore[import-untyped]
    except ModuleNotFoundError:
        raise ConfigError("approval buttons need ipywidgets: pip install 'agentlab[lab]'") from None

    requests = run.requests
    if not requests:
        return widgets.HTML(f"<p>run {html.escape(run.run_id)} waits for no approval</p>")
    out = widgets.Output()
    rows: list[Any] = []
    choices: list[tuple[Any, Answer, tuple[Request, ...], str]] = []
    for request in requests:
        unknown = request.unknown_effect
        row = [
            (
                widgets.Button(
                    description="Run it again" if unknown else "Approve", button_style="success"
                ),
                Answer.APPROVE,
                (request,),
                "approved in the notebook",
            ),
            (
                widgets.Button(description="Reject, re-plan", button_style="warning"),
                Answer.REJECT,
                (request,),
                "rejected in the notebook",
            ),
            (
                widgets.Button(description="Reject and stop", button_style="danger"),
                Answer.STOP,
                (request,),
                "stopped in the notebook",
            ),
        ]
        if unknown:
            row.append(
                (
                    widgets.Button(description="It happened", button_style="info"),
                    Answer.HAPPENED,
                    (request,),
                    "said to have happened in the notebook",
                )
            )
        choices += row
        rows += [widgets.HTML(request_html(request)), widgets.HBox([b for b, *_ in row])]
    approvals = tuple(r for r in requests if not r.unknown_effect)
    if len(approvals) > 1:
        every = widgets.Button(description=f"Approve all {len(approvals)}", button_style="success")
        choices.append((every, Answer.APPROVE, approvals, "approved in the notebook"))
        rows.append(every)
    buttons = [b for b, *_ in choices]

    def click(answer: Answer, shown: tuple[Request, ...], note: str) -> Callable[[Any], None]:
        def on_click(_: Any) -> None:
            for b in buttons:
                b.disabled = True

            async def decide() -> LabRun:
                with out:
                    try:
                        return await run.answer(answer, shown=shown, note=note)
                    except Exception as exc:  # shown under the buttons, which come back
                        print(f"error: {type(exc).__name__}: {exc}")
                        for b in buttons:
                            b.disabled = False
                        raise

            run._pending = asyncio.ensure_future(decide())

        return on_click

    for button, answer, shown, note in choices:
        button.on_click(click(answer, shown, note))
    return widgets.VBox([*rows, out])


def request_html(request: Request) -> str:
    """A request as HTML: the call, why it waits, its full arguments."""
    arguments = json.dumps(request.arguments, indent=2, ensure_ascii=False, default=str)
    what = "did this call take effect?" if request.unknown_effect else "approval needed"
    return (
        f"<p><b>{what}</b>: {html.escape(request.tool)} (step "
        f"{html.escape(request.step_id)}: {html.escape(request.description)})<br>"
        f"why: {html.escape(', '.join(request.reasons))}</p>"
        f"<pre>{html.escape(arguments)}</pre>"
    )
