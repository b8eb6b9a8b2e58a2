"""``agentlab run`` and ``agentlab demo``: start a run and drive it at the terminal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from agentlab.cli import common, drive
from agentlab.safe_text import markup


def run(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(metavar="TASK", help="What the agent should do.")],
    agent: Annotated[
        str | None,
        typer.Option(
            metavar="REF",
            help="The agent: 'package.module:attr' or 'path/to/file.py:attr' "
            "(default: the configured default_agent, the support agent).",
        ),
    ] = None,
    script: Annotated[
        Path | None,
        typer.Option(help="Replay this scripted-model file instead of calling Claude."),
    ] = None,
    principal: Annotated[str | None, typer.Option("--as", help=common.PRINCIPAL_HELP)] = None,
    prompts: Annotated[Path | None, typer.Option(metavar="DIR", help=common.PROMPTS_HELP)] = None,
    session: Annotated[
        str | None,
        typer.Option(
            metavar="ID",
            help="Add TASK as the next turn of this conversation (created on first use): the "
            "agent sees the session's earlier turns.",
        ),
    ] = None,
    approve: Annotated[bool, typer.Option("--approve", help="Approve every pause.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Reject every pause.")] = False,
    max_iterations: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=100_000,
            help="Planning rounds plus steps allowed (default: the agent's, else config, 10).",
        ),
    ] = None,
    max_usd: Annotated[
        float | None, typer.Option(min=0.000001, help="Model dollars this run may spend.")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option(min=1, help="Model tokens this run may use.")
    ] = None,
    max_session_usd: Annotated[
        float | None,
        typer.Option(min=0.000001, help="Model dollars the run's session may spend."),
    ] = None,
    max_session_tokens: Annotated[
        int | None, typer.Option(min=1, help="Model tokens the run's session may use.")
    ] = None,
    max_daily_usd: Annotated[
        float | None,
        typer.Option(min=0.000001, help="Model dollars the principal may spend per UTC day."),
    ] = None,
    max_daily_tokens: Annotated[
        int | None, typer.Option(min=1, help="Model tokens the principal may use per UTC day.")
    ] = None,
) -> None:
    """Run TASK, streaming each transition, tool call and approval pause.

    At a terminal you are asked at each pause; otherwise pass --approve or --reject, or the run
    stops at its first pause, saved, for 'agentlab resume'. Budgets (--max-usd and the like)
    are held before every model call: a call that could cross one is not made and the run ends
    failed (budget_exceeded); unset, the [budgets] of the config apply.
    """
    from agentlab.models.router import ModelSpec
    from agentlab.orchestration import Limits

    mode = drive.decide_mode(approve, reject)
    settings = common.settings(ctx, prompts_dir=prompts)
    common.check_prompts(settings)
    spec = ModelSpec(kind="scripted", script=str(script.resolve())) if script else None
    budgets = {
        "max_usd": max_usd,
        "max_tokens": max_tokens,
        "max_session_usd": max_session_usd,
        "max_session_tokens": max_session_tokens,
        "max_daily_usd": max_daily_usd,
        "max_daily_tokens": max_daily_tokens,
    }
    given: dict[str, Any] = {name: value for name, value in budgets.items() if value is not None}
    limits = None
    if max_iterations or given:
        limits = Limits(
            max_iterations=max_iterations or settings.max_iterations,
            max_parallel_calls=settings.max_parallel_calls,
            **given,
        )
    console = common.console()
    with common.runner(settings, principal) as runner:
        run_id, events = runner.start(
            agent, task, models=spec, principal=principal, session=session, limits=limits
        )
        view = runner.get(run_id)
        record = view.record
        console.print(
            f"Run [bold]{markup(run_id)}[/] · agent "
            + markup(f"{record.agent_name} ({record.agent}) · as {record.principal} · models: ")
            + markup(view.model_source)
        )
        code = drive.drive(console, runner, run_id, events, decide=mode)
    raise typer.Exit(code)


def demo(
    ctx: typer.Context,
    interactive: Annotated[
        bool,
        typer.Option("--interactive", help="Decide each approval yourself instead of approving."),
    ] = False,
    reset: Annotated[
        bool,
        typer.Option(
            "--reset",
            help="Only re-seed the example customer databases (the demo's, and the one 'run' "
            "uses), so examples that change them work again.",
        ),
    ] = False,
) -> None:
    """The support scenario, offline: a scripted model closes a customer's account.

    Everything but the model is real: the SQLite customer database, the tools, the checkpoints
    and the approval pauses. The demo database is re-seeded on every run.
    """
    from agentlab.domains import support
    from agentlab.models.router import ModelSpec

    if interactive and not sys.stdin.isatty():
        raise typer.BadParameter(
            "--interactive asks at a terminal, and stdin is not one: run it in a terminal, or "
            "leave --interactive out to have the demo approve its pauses"
        )
    settings = common.settings(ctx)
    console = common.console()
    db = support.SupportDatabase(settings.data_dir / "demo" / "support.sqlite")
    if reset:
        for each in (db, support.SupportDatabase(settings.data_dir / "support.sqlite")):
            each.reset()
            console.print(f"re-seeded {markup(each.path)} ({support.SEED_CUSTOMERS} customers)")
        return
    db.reset()
    console.print(
        "[bold]agentlab demo[/] · offline: the model is [bold yellow]scripted[/] (it replays "
        f"{support.demo_script_path().name}; no LLM is called).\n"
        f"Real: the customer database ({support.SEED_CUSTOMERS} seeded customers), tools, "
        f"checkpoints in {markup(settings.runs_database)}, approvals.\n"
        f"Task: {support.DEMO_TASK}"
    )
    mode = "ask" if interactive else "approve"
    if mode == "approve":
        console.print(
            "[dim]Approval pauses are approved automatically (--interactive to decide).[/]"
        )
    with common.runner(settings) as runner:
        run_id, events = runner.start(
            support.REFERENCE,
            support.DEMO_TASK,
            models=ModelSpec(kind="scripted", script=str(support.demo_script_path())),
            options={"db_path": str(db.path)},
        )
        code = drive.drive(
            console, runner, run_id, events, decide=mode, note="approved automatically by the demo"
        )
    raise typer.Exit(code)
