"""The ``agentlab`` command line.

Only Typer is imported at module level: ``agentlab --help`` must stay fast, so LangGraph, Pydantic
settings and the SDKs load inside the commands that use them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agentlab.cli import drive
from agentlab.cli.mcp import mcp_app
from agentlab.cli.phoenix import phoenix_command

if TYPE_CHECKING:
    from rich.console import Console

    from agentlab.config import Settings
    from agentlab.orchestration import Decision, SyncRunner

app = typer.Typer(
    name="agentlab",
    help="Run, approve and inspect durable LLM agent runs.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
    rich_markup_mode=None,  # plain help: no type noise such as <bool> on flags
)


@dataclass
class _Options:
    config: Path | None
    data_dir: Path | None


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"agentlab {version('agentlab')}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar="AGENTLAB_CONFIG", help="A TOML config file."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", envvar="AGENTLAB_DATA_DIR", help="Where runs are stored."),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    ctx.obj = _Options(config, data_dir)


def _settings(ctx: typer.Context, **overrides: object) -> Settings:
    from agentlab.config import load_settings
    from agentlab.observability.logs import log_redacted

    opts: _Options = ctx.obj
    settings = load_settings(opts.config, data_dir=opts.data_dir, **overrides)
    log_redacted(settings)  # warnings (retries, budgets) reach stderr with secrets masked
    return settings


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False)


def _runner(settings: Settings) -> SyncRunner:
    from agentlab.orchestration import SyncRunner

    return SyncRunner(settings)


_PRINCIPAL_HELP = "Who the run acts for (a user or service; default: your OS user)."


@app.command()
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
    principal: Annotated[str | None, typer.Option("--as", help=_PRINCIPAL_HELP)] = None,
    session: Annotated[str | None, typer.Option(help="A session id grouping related runs.")] = None,
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
    settings = _settings(ctx)
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
    console = _console()
    with _runner(settings) as runner:
        run_id, events = runner.start(
            agent, task, models=spec, principal=principal, session=session, limits=limits
        )
        view = runner.get(run_id)
        console.print(
            f"Run [bold]{run_id}[/] · agent {view.record.agent_name} ({view.record.agent}) · "
            f"as {view.record.principal} · models: {view.model_source}"
        )
        code = drive.drive(console, runner, run_id, events, decide=mode)
    raise typer.Exit(code)


@app.command()
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

    settings = _settings(ctx)
    console = _console()
    db = support.SupportDatabase(settings.data_dir / "demo" / "support.sqlite")
    if reset:
        for each in (db, support.SupportDatabase(settings.data_dir / "support.sqlite")):
            each.reset()
            console.print(f"re-seeded {each.path} ({support.SEED_CUSTOMERS} customers)")
        return
    db.reset()
    console.print(
        "[bold]agentlab demo[/] · offline: the model is [bold yellow]scripted[/] (it replays "
        f"{support.demo_script_path().name}; no LLM is called).\n"
        f"Real: the customer database ({support.SEED_CUSTOMERS} seeded customers), tools, "
        f"checkpoints in {settings.runs_database}, approvals.\n"
        f"Task: {support.DEMO_TASK}"
    )
    mode = "ask" if interactive and sys.stdin.isatty() else "approve"
    if mode == "approve":
        console.print(
            "[dim]Approval pauses are approved automatically (--interactive to decide).[/]"
        )
    with _runner(settings) as runner:
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


@app.command()
def agents(
    ctx: typer.Context,
    graphs: Annotated[
        Path,
        typer.Option("--graphs", metavar="FILE", help="The langgraph.json listing the agents."),
    ] = Path("langgraph.json"),
) -> None:
    """List the agents of langgraph.json, with their tools and what the policy says of each."""
    from agentlab.cli import catalog, render

    settings = _settings(ctx)
    entries = catalog.agents_of(graphs, settings)
    _console().print(render.agents_table(entries))


@app.command()
def promote(
    notebook: Annotated[
        Path, typer.Argument(metavar="NOTEBOOK", help="The notebook whose 'export' cells to take.")
    ],
    name: Annotated[str, typer.Option(help="The graph's name: graphs/NAME.py.")],
    project: Annotated[
        Path, typer.Option(help="The project directory, holding langgraph.json.")
    ] = Path("."),
) -> None:
    """Write a notebook's cells tagged 'export' into graphs/NAME.py and register it in
    langgraph.json. Promoting again updates the module in place."""
    from agentlab.lab import promote as promote_notebook

    done = promote_notebook(notebook, name, project=project)
    console = _console()
    verb = "updated" if done.updated else "wrote"
    console.print(f"{verb} {done.module} from {done.cells} cell(s) of {notebook}")
    if done.registered:
        console.print(f"registered graph {done.graph!r} in {project / 'langgraph.json'}")
    else:
        console.print(f"graph {done.graph!r} was already registered in langgraph.json")
    console.print(f"run it: agentlab run --agent {done.reference} TASK")


@app.command()
def runs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="How many runs to list.")] = 20,
    feedback: Annotated[
        str | None,
        typer.Option(
            metavar="good|bad", help="Only runs given this verdict ('agentlab feedback')."
        ),
    ] = None,
) -> None:
    """List recent runs, newest first."""
    from agentlab.cli import render
    from agentlab.store import RunRecord

    _check_score("--feedback", feedback)
    settings = _settings(ctx)
    console = _console()
    with _runner(settings) as runner:
        listed = runner.list(limit, feedback=feedback)
    if not listed and feedback is not None:
        print(f"no run has feedback {feedback!r}")
        return
    if not listed:
        console.print(f"No runs yet in {settings.runs_database}. Try: agentlab demo")
        return
    records = [r for r in listed if isinstance(r, RunRecord)]
    if records:
        console.print(render.runs_table(records))
    for damaged in listed:
        if not isinstance(damaged, RunRecord):
            print(
                f"error: run {damaged.run_id} in {settings.runs_database} cannot be read "
                f"({damaged.problem}); 'agentlab doctor' checks the database",
                file=sys.stderr,
            )


@app.command()
def show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="A run id from 'agentlab runs'.")],
) -> None:
    """Show a run: its summary, transitions, tool calls and any approval it waits for."""
    from agentlab.cli import render

    console = _console()
    with _runner(_settings(ctx)) as runner:
        view = runner.get(run_id)
        entries = runner.store.ledger(run_id)
        killed = runner.store.killed(run_id)
    console.print(render.summary_panel(view))
    if killed and view.status not in ("completed", "failed"):
        console.print(f"[bold red]{killed}[/]: it ends failed when it is next advanced or resumed")
    if entries:
        console.print(render.costs_table(entries))
    if view.state.get("plan"):
        console.print(render.plan_table(view.state["plan_round"], view.state["plan"]))
    console.print(render.transitions_table(view))
    if view.state.get("policy_decisions"):
        console.print(render.policy_table(view))
    console.print(render.results_table(view))
    if view.waiting_for:
        for panel in render.approval_panels(view.waiting_for):
            console.print(panel)
        console.print(f"Decide with: {render.decide_hint(run_id, view.waiting_for)}")


@app.command()
def resume(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="A run id from 'agentlab runs'.")],
    approve: Annotated[
        bool,
        typer.Option(
            "--approve",
            help="Approve the waiting call (for a call of unknown effect: run it again).",
        ),
    ] = False,
    reject: Annotated[
        bool, typer.Option("--reject", help="Reject it: the run re-plans without it.")
    ] = False,
    stop: Annotated[
        bool, typer.Option("--stop", help="With --reject: end the run instead of re-planning.")
    ] = False,
    happened: Annotated[
        bool,
        typer.Option(
            "--happened", help="For a call of unknown effect: it took effect; record it as done."
        ),
    ] = False,
    result: Annotated[
        str | None,
        typer.Option(metavar="JSON", help="With --happened: the call's output, as JSON."),
    ] = None,
    step: Annotated[
        str | None,
        typer.Option(
            metavar="STEP",
            help="Decide only if the run waits on this step (e.g. 1.2); refuse otherwise.",
        ),
    ] = None,
    edited: Annotated[
        str | None,
        typer.Option(
            "--args",
            metavar="JSON",
            help="With --approve: run the call with these arguments instead (a JSON object).",
        ),
    ] = None,
    note: Annotated[str, typer.Option(help="Why (recorded with the decision).")] = "",
) -> None:
    """Continue a saved run: decide what it waits for, or carry on after a crash.

    The decision applies to the request the run waits for now, shown before it is applied; if
    another process moved the run on meanwhile, it is refused. At a terminal, a waiting run given
    no decision asks you, and so do its later pauses; otherwise it stops at its next pause again.
    """
    from agentlab.cli import render
    from agentlab.orchestration import decision_for, describe_request, waiting_requests
    from agentlab.orchestration.approvals import DecisionRefused

    if stop and not reject:
        raise typer.BadParameter("--stop goes with --reject")
    if result is not None and not happened:
        raise typer.BadParameter("--result goes with --happened")
    if sum((approve, reject, happened)) > 1:
        raise typer.BadParameter("choose one of --approve, --reject and --happened")
    if edited is not None and not approve:
        raise typer.BadParameter("--args goes with --approve")
    output = _json_option("--result", result) if result is not None else None
    arguments = _json_option("--args", edited) if edited is not None else None
    if arguments is not None and not isinstance(arguments, dict):
        raise typer.BadParameter('--args must be a JSON object: {"name": value, ...}')
    console = _console()
    interactive = sys.stdin.isatty()
    deciding = approve or reject or happened
    decision: Decision | list[Decision] | None = None
    with _runner(_settings(ctx)) as runner:
        waiting = runner.get(run_id).waiting_for
        targets = _targets(run_id, waiting, step)
        if happened and any(r.get("kind") != "unknown_side_effect" for r in targets):
            raise typer.BadParameter(
                "--happened answers a call of unknown effect; this run waits for an approval"
                + (": choose the call with --step" if len(targets) > 1 else "")
            )
        if arguments is not None and len(targets) > 1:
            steps = ", ".join(str(r["step_id"]) for r in targets)
            raise typer.BadParameter(
                f"--args edits one call and {len(targets)} wait (steps {steps}): "
                "choose one with --step"
            )
        if deciding and targets:
            for request in targets:
                console.print(render.approval_panel(request))
            if arguments is not None and targets[0].get("kind") != "approval":
                raise typer.BadParameter("--args edits a call waiting for approval")
            decisions = [
                decision_for(
                    request,
                    approve=approve,
                    note=note,
                    stop=stop,
                    happened=happened,
                    result=output,
                    arguments=arguments,
                )
                for request in targets
            ]
            decision = decisions[0] if len(decisions) == 1 else decisions
            if arguments is not None:
                console.print(f"approving it with the arguments {json.dumps(arguments)}")
        elif deciding:  # the runner says why there is nothing to decide
            decision = {"approve": approve, "note": note}
        elif waiting is not None and interactive:
            for panel in render.approval_panels(waiting):
                console.print(panel)
            decision = drive.ask(console, waiting)
            if decision is None:
                console.print(f"Run [bold]{run_id}[/] is still waiting for a decision.")
                return
        try:
            events = runner.resume(run_id, decision)
        except DecisionRefused:
            now = runner.get(run_id).waiting_for
            if waiting is not None or now is None:
                raise
            # It waited for nothing when read (another process was advancing it) and has
            # paused again since, on a call this person was never shown.
            shown = ", ".join(describe_request(r) for r in waiting_requests(now))
            raise DecisionRefused(
                f"run {run_id} was waiting for no decision when it was read, but the run is now "
                f"waiting for {shown}: look at it ('agentlab show {run_id}') and decide on that"
            ) from None
        mode = "ask" if interactive else "leave"
        code = drive.drive(console, runner, run_id, events, decide=mode)
    raise typer.Exit(code)


def _targets(run_id: str, waiting: dict[str, Any] | None, step: str | None) -> list[dict[str, Any]]:
    """The requests a decision given on the command line answers: all those shown, or the one
    of ``step``."""
    from agentlab.errors import RunStateError
    from agentlab.orchestration import waiting_requests

    if waiting is None:
        return []
    requests = waiting_requests(waiting)
    if step is None:
        return requests
    chosen = [r for r in requests if r["step_id"] == step]
    if not chosen:
        shown = ", ".join(f"step {r['step_id']} ({r['tool']})" for r in requests)
        raise RunStateError(
            f"run {run_id} is waiting on {shown}, not step {step}: "
            f"'agentlab show {run_id}' shows it"
        )
    return chosen


policy_app = typer.Typer(
    help="Authorization policies as data (YAML files of rules).", no_args_is_help=True
)
app.add_typer(policy_app, name="policy")


@policy_app.command("check")
def policy_check(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The policy file (YAML).")],
    agent: Annotated[
        str | None,
        typer.Option(help="The agent whose tools to check: module:attr or file.py:attr."),
    ] = None,
) -> None:
    """Check a policy file and explain, for each of the agent's tools, what each principal the
    file names (and anyone else) gets: allow, ask or deny, why, and which argument conditions
    would change it. A broken file is one error line naming the file, line and problem."""
    from agentlab.cli import policy
    from agentlab.tools.rules import load_policy

    rules = load_policy(file)
    _console().print(policy.table(rules, policy.explain(rules, _agent(ctx, agent))))


app.add_typer(mcp_app, name="mcp")  # agentlab mcp serve: cli/mcp.py

tools_app = typer.Typer(help="An agent's tools, as a model sees them.", no_args_is_help=True)
app.add_typer(tools_app, name="tools")


@tools_app.command("list")
def tools_list(
    ctx: typer.Context,
    agent: Annotated[
        str | None, typer.Option(help="The agent: module:attr or file.py:attr.")
    ] = None,
) -> None:
    """Each of the agent's tools: description, input schema, risk, flags and source."""
    from agentlab.cli import tools

    definition = _agent(ctx, agent)
    _console().print(tools.list_table(definition, tools.tools_of(definition)))


@tools_app.command("lint")
def tools_lint(
    ctx: typer.Context,
    agent: Annotated[
        str | None, typer.Option(help="The agent: module:attr or file.py:attr.")
    ] = None,
) -> None:
    """Flag what the agent's tools leave a model to guess: descriptions that do not say when to
    use the tool, parameters without descriptions, ids without ranges, free strings named like
    enums. Exit 1 if anything is flagged (for CI)."""
    from agentlab.cli import tools
    from agentlab.tools.lint import lint

    definition = _agent(ctx, agent)
    listed = tools.tools_of(definition)
    findings = lint(listed)
    for line in tools.lint_lines(findings):
        print(line)
    print(f"{definition.name}: {len(listed)} tool(s), {len(findings)} finding(s)")
    if findings:
        raise typer.Exit(1)


def _agent(ctx: typer.Context, reference: str | None) -> Any:
    from agentlab.orchestration import load_agent, normalize_reference

    return load_agent(normalize_reference(reference or _settings(ctx).default_agent))


@app.command()
def doctor(ctx: typer.Context) -> None:
    """Check the runs database: SQLite's integrity check, unreadable runs, calls whose outcome
    was never recorded, and claims on runs left by processes that died. Exit 1 if any.

    The status of a run whose process died is first set from its checkpoint, as 'runs' does."""
    import asyncio

    settings = _settings(ctx)
    if settings.database_url is None and not settings.checkpoint_path.exists():
        print(f"no runs database at {settings.checkpoint_path} yet: nothing to check")
        return
    where, problems = asyncio.run(_check(settings))
    checked = (
        "runs, journal, leases" if settings.database_url else "integrity, runs, journal, leases"
    )
    if not problems:
        print(f"{where}: ok ({checked})")
        return
    for problem in problems:
        print(f"problem: {problem}")
    print(f"{where}: {len(problems)} problem(s)")
    raise typer.Exit(1)


async def _check(settings: Settings) -> tuple[str, list[str]]:
    import asyncio

    from agentlab.orchestration import Runner

    async with Runner(settings) as runner:
        # First bring the status of runs whose process died in line with their checkpoints
        # (clearing the claims of those that had ended), as 'agentlab runs' does.
        await runner.list(limit=1_000_000)
        return runner.where, await asyncio.to_thread(runner.store.check)


app.command("phoenix")(phoenix_command)  # agentlab phoenix: cli/phoenix.py


@app.command()
def costs(
    ctx: typer.Context,
    by: Annotated[
        str,
        typer.Option(
            "--by",
            metavar="agent|principal|session|day|run",
            help="Group the ledger's model calls by this.",
        ),
    ] = "principal",
    since: Annotated[
        str | None,
        typer.Option(metavar="YYYY-MM-DD", help="Only calls made on or after this UTC day."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Model calls, tokens, cache hit rate and dollars from the cost ledger, grouped.

    A call whose model has no price makes its group's cost unknown (never $0); calls of a
    scripted model priced as a real one (a script's priced_as) are marked simulated."""
    from agentlab.cli import costs as costs_view

    if by not in costs_view.GROUPS:
        raise typer.BadParameter(f"--by takes one of {', '.join(costs_view.GROUPS)}, not {by!r}")
    if since is not None:
        costs_view.check_day(since)
    with _runner(_settings(ctx)) as runner:
        totals = runner.store.cost_totals(by, since)
    if as_json:
        print(json.dumps(costs_view.as_json(by, totals), indent=2))
        return
    if not totals:
        print("no model calls in the cost ledger yet")
        return
    _console().print(costs_view.table(by, totals))


@app.command()
def kill(
    ctx: typer.Context,
    run_id: Annotated[
        str | None, typer.Argument(metavar="RUN", help="A run id from 'agentlab runs'.")
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Every run of --principal that has not ended.")
    ] = False,
    principal: Annotated[
        str | None, typer.Option("--principal", help="With --all: whose runs.")
    ] = None,
) -> None:
    """Stop a run from any process: the process advancing it ends it at its next step (status
    failed, reason killed); a run waiting for a human ends so when it is next resumed."""
    from agentlab.errors import RunStateError

    if everything == (run_id is not None):
        raise typer.BadParameter("give a RUN, or --all --principal P")
    if everything and principal is None:
        raise typer.BadParameter("--all goes with --principal P")
    if principal is not None and not everything:
        raise typer.BadParameter("--principal goes with --all")
    with _runner(_settings(ctx)) as runner:
        store = runner.store
        if run_id is not None:
            record = store.get_run(run_id)
            if record.status in ("completed", "failed"):
                raise RunStateError(f"run {run_id} has ended ({record.status}): nothing to kill")
            store.kill(run_id)
            killed = [record]
        else:
            assert principal is not None
            killed = [store.get_run(each) for each in store.kill_all(principal)]
    if not killed:
        print(f"no run of {principal} is running or waiting: nothing to kill")
    for record in killed:
        when = (
            "when it is next resumed" if record.status == "awaiting_human" else "at its next step"
        )
        print(f"killed run {record.run_id} ({record.status}): it ends failed (killed) {when}")


@app.command()
def feedback(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="A run id from 'agentlab runs'.")],
    score: Annotated[str, typer.Option("--score", metavar="good|bad", help="Your verdict.")],
    comment: Annotated[str, typer.Option(metavar="TEXT", help="Why: kept with the verdict.")] = "",
    by: Annotated[
        str | None, typer.Option("--as", help="Who gives it (default: your OS user).")
    ] = None,
) -> None:
    """Give a run your verdict: kept with the run ('agentlab runs --feedback bad' lists those so
    judged) and attached to its trace in Phoenix, as a 'user feedback' annotation of the run's
    root span. Giving it again replaces it."""
    from agentlab.observability.feedback import give_feedback, phoenix_url_for
    from agentlab.orchestration.context import default_principal

    _check_score("--score", score)
    settings = _settings(ctx)
    with _runner(settings) as runner:
        view = runner.get(run_id)
        given = give_feedback(
            runner.store,
            view.record,
            view.state,
            score=score,
            comment=comment,
            by=by or default_principal(),
            phoenix_url=phoenix_url_for(settings.otlp_endpoint),
        )
    said = f"{given.feedback.score}" + (f" ({given.feedback.comment})" if comment else "")
    print(f"run {run_id}: feedback {said} from {given.feedback.by}, kept with the run")
    if given.attached:
        print(f"attached to its trace in Phoenix ({given.phoenix_url}, span {given.span_id})")
    elif given.outcome == "untraced":
        print(f"not in Phoenix: {given.reason}")
    else:
        print(f"warning: not attached to its trace in Phoenix: {given.reason}", file=sys.stderr)


def _check_score(flag: str, score: str | None) -> None:
    from agentlab.observability.feedback import SCORES

    if score is not None and score not in SCORES:
        raise typer.BadParameter(f"{flag} takes good or bad, not {score!r}")


def _json_option(flag: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{flag} must be JSON ({exc.msg} at column {exc.colno})") from None


# Lower layers speak of the API; at the command line the same advice names the flags.
_FLAGS = {
    "a decision (approve or reject)": "--approve or --reject",
    "without a decision": "without --approve/--reject",
    "a scripted model (a script file)": "a scripted model (--script FILE)",
    "set data_dir (AGENTLAB_DATA_DIR)": "pass --data-dir (or set AGENTLAB_DATA_DIR)",
}


def _in_cli_words(message: str) -> str:
    for api, cli in _FLAGS.items():
        message = message.replace(api, cli)
    return message


def main() -> None:
    """Entry point: ``agentlab`` with the process's arguments; exits with ``execute``'s code."""
    sys.exit(execute(sys.argv[1:]))


def execute(argv: Sequence[str]) -> int:
    """Run the command line on ``argv`` (without the program name) and return its exit code.

    User mistakes print one ``error:`` line to stderr and return 2; bugs keep their traceback.
    Typer runs outside its standalone mode so that usage errors read like every other error.
    Ctrl-C becomes exit code 130 in Typer; a command driving a run first says which run is saved.
    Tests call this in process, so they see what users see.
    """
    # Typer (>= 0.29) vendors Click: its usage errors are these classes.
    from typer._click.exceptions import NoArgsIsHelpError, UsageError

    from agentlab.errors import AgentlabError

    try:
        # Outside standalone mode Click returns the code of a `typer.Exit` instead of exiting.
        code = app(args=list(argv), prog_name="agentlab", standalone_mode=False)
    except NoArgsIsHelpError as exc:  # bare `agentlab`: its help, not an error
        print(exc.ctx.get_help() if exc.ctx else exc.format_message())
        return 0
    except UsageError as exc:
        hint = f"; see '{exc.ctx.command_path} --help'" if exc.ctx else ""
        print(f"error: {exc.format_message().rstrip('.')}{hint}", file=sys.stderr)
        return 2
    except AgentlabError as exc:
        print(f"error: {_in_cli_words(str(exc))}", file=sys.stderr)
        return 2
    except typer.Abort:  # end of input at a prompt
        print("interrupted", file=sys.stderr)
        return 130
    return code if isinstance(code, int) else 0
