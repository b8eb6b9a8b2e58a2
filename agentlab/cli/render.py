"""How runs look in a terminal: Rich renderings of events, summaries and run lists."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from agentlab.cli import approvers
from agentlab.observability.ledger import phase_costs
from agentlab.orchestration import (
    ApprovalDecided,
    ApprovalRequested,
    Escalated,
    ModelCalled,
    PlanMade,
    Replied,
    ReplyDelta,
    Request,
    RunEnded,
    RunEvent,
    RunView,
    StatusChanged,
    ToolCalled,
    summarize,
)
from agentlab.orchestration.prompt_book import BUILTIN
from agentlab.safe_text import markup, rich_text, visible
from agentlab.store import Feedback, LedgerEntry

_STATUS_STYLE = {
    "completed": "bold green",
    "failed": "bold red",
    "awaiting_human": "bold yellow",
    "planning": "cyan",
    "executing": "blue",
    "validating": "magenta",
}
_FEEDBACK_STYLE = {"good": "bold green", "bad": "bold red"}


def short(value: Any, limit: int = 160) -> str:
    """``value`` on one line, made visible (``safe_text``), cut to ``limit`` characters."""
    text = visible(value if isinstance(value, str) else json.dumps(value, default=str), lines=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _args(arguments: dict[str, Any]) -> str:
    return ", ".join(f"{short(k, 60)}={short(v, 60)}" for k, v in arguments.items())


def status_text(status: str) -> Text:
    return Text(status, style=_STATUS_STYLE.get(status, ""))


def plan_table(round_: int, steps: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title=f"Plan {round_}", title_justify="left", show_lines=False)
    table.add_column("step")
    table.add_column("what")
    table.add_column("tool", style="bold")
    table.add_column("arguments")
    table.add_column("risk")
    named = any(s.get("depends_on") is not None for s in steps)
    if named:  # the planner said which steps need which: independent ones run at once
        table.add_column("after")
    for s in steps:
        risk = "destructive" if s["destructive"] else ""
        if s["estimated_cost_usd"]:
            risk = f"{risk} ~${s['estimated_cost_usd']:.2f}".strip()
        row = [
            rich_text(s["id"]),
            rich_text(s["description"]),
            rich_text(s["tool"]),
            Text(_args(s["arguments"])) if s["arguments"] else Text("(filled in when run)", "dim"),
            Text(risk),
        ]
        if named:
            after = s.get("depends_on")
            row.append(rich_text("previous" if after is None else ", ".join(after) or "-"))
        table.add_row(*row)
    return table


def render_event(console: Console, event: RunEvent) -> None:
    """Print one event as it happens."""
    match event:
        case PlanMade(round=round_, steps=steps):
            console.print(plan_table(round_, steps))
        case ModelCalled(call=c):
            cache = ""
            if c["cache_read_tokens"] or c["cache_write_tokens"]:
                cache = f", cache read {c['cache_read_tokens']} / write {c['cache_write_tokens']}"
            cost = "cost unknown" if c["cost_usd"] is None else f"${c['cost_usd']:.4f}"
            if c["provider"] == "simulated":
                cost += " simulated"
            console.print(
                f"[dim]  model {markup(c['role'])}: {markup(c['model'])}, {c['input_tokens']} "
                f"in / {c['output_tokens']} out{cache}, {cost}[/dim]"
            )
        case Escalated(role=role, from_model=before, to_model=after, reason=reason):
            escalated = {"role": role, "from_model": before, "to_model": after, "reason": reason}
            console.print(Text.assemble("  ", escalation_text(escalated)))
        case ToolCalled(result=r):
            o = r["outcome"]
            said = ("ok", "green") if o["ok"] else ("error", "red")
            line = Text.assemble(
                "  tool ",
                (short(r["tool"], 80), "bold"),
                f"({_args(r['arguments'])}) ",
                said,
                f" {short(o['output']) if o['ok'] else visible(o['error'], lines=False)}",
            )
            console.print(line, highlight=False)
        case StatusChanged(transition=t):
            line = Text.assemble(
                "  ",
                status_text(t["source"]),
                " → ",
                status_text(t["target"]),
                f"  {visible(t['reason'], lines=False)}",
            )
            console.print(line)
        case ApprovalRequested(request=req):
            console.print(approval_panel(req))
        case ApprovalDecided(approved=approved, note=note, stop=stop):
            verdict = "approved" if approved else ("rejected, stop" if stop else "rejected")
            why = f" ({visible(note, lines=False)})" if note else ""
            console.print(Text.assemble("  ", (verdict, "bold"), why))
        case RunEnded():
            pass


def escalation_text(escalation: Mapping[str, Any]) -> Text:
    """An escalation (an ``Escalated`` event's fields, or the run state's record): the role,
    from which model to which, and why."""
    e = escalation
    said = f"{e['role']}: {e['from_model']} → {e['to_model']} ({e['reason']})"
    return Text(visible(said, lines=False), style="yellow")


def approval_panel(request: Request | Mapping[str, Any]) -> Panel:
    """The call a person is asked about, with every argument in full: nothing cut short, and
    nothing in it a terminal would obey (``safe_text``); only the arguments take lines."""
    shown = request if isinstance(request, Request) else Request.of(request)
    arguments = json.dumps(shown.arguments, indent=2, ensure_ascii=False, default=str)
    body = Text.assemble(
        (visible(shown.tool, lines=False), "bold"),
        visible(f" (step {shown.step_id}: {shown.description})", lines=False),
        ("\narguments: ", "dim"),
        f"{visible(arguments)}\n",
        ("why: ", "dim"),
        visible(", ".join(shown.reasons), lines=False),
        ("\nrequest: ", "dim"),
        visible(f"{shown.request_id} (call {shown.call_hash or '?'})", lines=False),
    )
    rights = approval_rights(shown)
    if rights:
        body.append_text(
            Text.assemble(("\nwho may approve: ", "dim"), visible(rights, lines=False))
        )
    title = "did this call take effect?" if shown.unknown_effect else "approval needed"
    return Panel(body, title=title, border_style="yellow", expand=False)


def approval_rights(request: Request) -> str:
    """Who the policy lets approve ``request``, when it restricts it (else empty)."""
    said = []
    if request.approvers is not None:
        said.append(", ".join(request.approvers) or "nobody")
    if not request.self_approval:
        said.append("not the run's own principal (a destructive call)")
    return "; ".join(said)


def decide_hint(run_id: str, requests: Sequence[Request]) -> str:
    """The command lines that answer ``requests`` (what a paused run waits on)."""
    if len(requests) > 1:
        steps = ", ".join(r.step_id for r in requests)
        if any(r.unknown_effect for r in requests):
            return (
                f"agentlab resume {run_id} --step S --happened | --approve | --reject   (one "
                f"call at a time: steps {steps}; --reject applies to all when no step is given)"
            )
        return (
            f"agentlab resume {run_id} --approve   (or --reject; each applies to all "
            f"{len(requests)} calls shown: add --step S for one of steps {steps})"
        )
    if requests and requests[0].unknown_effect:
        return (
            f"agentlab resume {run_id} --happened [--result JSON]   (or --approve to run it "
            "again, --reject to re-plan without it, --reject --stop to end the run)"
        )
    return f"agentlab resume {run_id} --approve   (or --reject)"


def render_stream(
    console: Console, events: Iterable[RunEvent], *, brief: bool = False
) -> tuple[RunEnded, ApprovalRequested | None]:
    """Print events until the stream ends; return its end and the approval it paused on, if
    any. ``brief`` (a chat) leaves out plans, model calls and the course of the run, but not
    how it failed."""
    waiting: ApprovalRequested | None = None
    streamed = False  # a reply was printed as it arrived
    line_open = False  # ... and its line is not ended yet
    for event in events:
        if isinstance(event, ReplyDelta):
            if not streamed:
                console.print("[bold]reply:[/] ", end="")
                streamed = True
            # A piece at a time: an escape sequence split across pieces is made visible too,
            # since its ESC is.
            text = visible(event.text)
            console.print(text, end="", markup=False, highlight=False, soft_wrap=True)
            line_open = True
            continue
        if line_open:  # the reply is whole: what comes next gets a line of its own
            console.print()
            line_open = False
        if isinstance(event, Replied):
            if not (streamed and event.streamed):
                console.print(Text.assemble(("reply: ", "bold"), visible(event.reply)))
            streamed = False
            continue
        if brief and _routine(event):
            continue
        render_event(console, event)
        if isinstance(event, ApprovalRequested):
            waiting = event
        if isinstance(event, RunEnded):
            return event, waiting
    raise RuntimeError("a run's event stream ended without RunEnded")


def _routine(event: RunEvent) -> bool:
    """What a chat does not show: plans, model calls, status changes other than a failure."""
    if isinstance(event, StatusChanged):
        return event.transition["target"] != "failed"
    return isinstance(event, PlanMade | ModelCalled)


def summary_panel(view: RunView) -> Panel:
    s = summarize(view.state, view.limits)
    u = s.usage
    cost = "unknown (a model has no price)" if s.cost_usd is None else f"${s.cost_usd:.4f}"
    if s.simulated:
        cost += " (simulated: a scripted model priced as a real one; no LLM was called)"
    elif s.scripted:
        cost += " (scripted: no LLM was called)"
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    grid.add_row("run", rich_text(view.record.run_id))
    grid.add_row("status", status_text(s.status))
    if s.outcome:
        grid.add_row("outcome", rich_text(s.outcome))
    grid.add_row("task", rich_text(view.record.task))
    reply = view.state.get("reply")
    if reply:
        grid.add_row("reply", rich_text(reply, "bold"))
    grid.add_row("agent", rich_text(f"{view.record.agent_name} ({view.record.agent})"))
    session = view.record.session
    who = approvers.started_by(view) + (f", session {session}" if session else "")
    grid.add_row("for", rich_text(who))
    grid.add_row("iterations", f"{s.iterations} of {s.max_iterations}")
    grid.add_row(
        "plans / steps", f"{s.plans} plan(s), {s.steps_ok} step(s) ok, {s.steps_failed} failed"
    )
    grid.add_row("approvals", f"{s.approved} approved, {s.rejected} rejected")
    grid.add_row("model calls", rich_text(f"{s.model_calls} ({view.model_source})"))
    prompts = view.state.get("prompt_version")
    if prompts and prompts != BUILTIN:  # runs with the built-in prompts do not say so
        grid.add_row("prompts", rich_text(prompts))
    for escalated in view.escalations:
        grid.add_row("escalated", escalation_text(escalated))
    grid.add_row(
        "tokens",
        f"{u.input_tokens} in, {u.output_tokens} out, cache read "
        f"{u.cache_read_tokens}, cache write {u.cache_write_tokens}",
    )
    grid.add_row("cost", cost)
    judged = view.record.feedback
    if judged is not None:
        given = rich_text(f" (from {judged.by}, {utc(judged.at)} UTC)", "dim")
        grid.add_row("feedback", Text.assemble(feedback_text(judged), given))
    border = {"completed": "green", "failed": "red"}.get(s.status, "yellow")
    return Panel(grid, title="run summary", border_style=border, expand=False)


def costs_table(entries: Sequence[LedgerEntry]) -> Table:
    """The run's model calls in the cost ledger, per phase and in all, with the cache hit rate
    (cache-read tokens over cacheable input)."""
    table = Table(title="Costs (ledger)", title_justify="left")
    for col in ("phase", "calls", "in", "out", "cache read", "cache write", "hit rate", "cost"):
        table.add_column(col, justify="left" if col in ("phase", "cost") else "right")
    for p in phase_costs(entries):
        rate = p.cache_hit_rate
        cost = "unknown" if p.cost_usd is None else f"${p.cost_usd:.4f}"
        if p.simulated and p.cost_usd is not None:
            cost += " (simulated)"
        table.add_row(
            Text(p.phase, style="bold" if p.phase == "total" else ""),
            str(p.calls),
            str(p.input_tokens),
            str(p.output_tokens),
            str(p.cache_read_tokens),
            str(p.cache_write_tokens),
            "-" if rate is None else f"{rate:.0%}",
            cost,
        )
    open_ = sum(1 for e in entries if not e.settled)
    if open_:
        table.caption = f"{open_} call(s) reserved and not settled (in flight, or cut off)"
    return table


def transitions_table(view: RunView) -> Table:
    table = Table(title="Transitions", title_justify="left")
    for col in ("#", "iteration", "from", "to", "node", "reason"):
        table.add_column(col)
    for i, t in enumerate(view.state.get("transitions", []), start=1):
        table.add_row(
            str(i),
            str(t["iteration"]),
            status_text(t["source"]),
            status_text(t["target"]),
            rich_text(t["node"]),
            rich_text(t["reason"]),
        )
    return table


def results_table(view: RunView) -> Table:
    table = Table(title="Tool calls", title_justify="left")
    for col in ("step", "tool", "arguments", "result"):
        table.add_column(col)
    for r in view.state.get("results", []):
        o = r["outcome"]
        result = (
            Text(short(o["output"]), style="green")
            if o["ok"]
            else rich_text(f"error: {o['error']}", "red")
        )
        arguments = Text(_args(r["arguments"]))
        table.add_row(rich_text(r["step_id"]), rich_text(r["tool"]), arguments, result)
    return table


def policy_table(view: RunView) -> Table:
    """Each call the policy decided on: for whom, the verdict, and the rule(s) behind it."""
    table = Table(title="Policy decisions", title_justify="left")
    for col in ("step", "tool", "principal", "verdict", "why"):
        table.add_column(col)
    styles = {"allow": "green", "ask": "yellow", "deny": "red"}
    for d in view.state.get("policy_decisions", []):
        why = "; ".join(filter(None, [", ".join(d["reasons"]), d.get("rule") or ""]))
        table.add_row(
            rich_text(d["step_id"]),
            rich_text(d["tool"]),
            rich_text(d["principal"]),
            rich_text(d["verdict"], styles.get(d["verdict"], "")),
            rich_text(why),
        )
    return table


def feedback_text(feedback: Feedback | None, comment_limit: int = 160) -> Text:
    """A verdict, coloured, with its comment (cut to ``comment_limit``)."""
    if feedback is None:
        return Text("")
    text = Text(feedback.score, style=_FEEDBACK_STYLE.get(feedback.score, ""))
    if feedback.comment:
        text.append(f": {short(feedback.comment, comment_limit)}")
    return text


def utc(stamp: str) -> str:
    """A stored timestamp as a person reads it (UTC, without its offset)."""
    return stamp.replace("T", " ").removesuffix("+00:00")
