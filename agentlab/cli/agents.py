"""Commands about agents: ``agents``, ``promote``, ``tools list|lint`` and ``policy check``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agentlab.cli import common


def agents(
    ctx: typer.Context,
    graphs: Annotated[
        Path,
        typer.Option("--graphs", metavar="FILE", help="The langgraph.json listing the agents."),
    ] = Path("langgraph.json"),
) -> None:
    """List the agents of langgraph.json, with their tools and what the policy says of each."""
    from agentlab.cli import catalog, listing

    settings = common.settings(ctx)
    entries = catalog.agents_of(graphs, settings)
    common.console().print(listing.agents_table(entries))


def promote(
    notebook: Annotated[
        Path, typer.Argument(metavar="NOTEBOOK", help="The notebook whose 'export' cells to take.")
    ],
    name: Annotated[str, typer.Option(help="The graph's name: graphs/NAME.py.")],
    project: Annotated[
        Path | None,
        typer.Option(
            help="The project directory, holding langgraph.json [default: the first directory "
            "holding one, from here upwards]",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write a notebook's cells tagged 'export' into graphs/NAME.py and register it in
    langgraph.json. Promoting again updates the module in place."""
    from agentlab.lab import promote as promote_notebook

    done = promote_notebook(notebook, name, project=project)
    from agentlab.safe_text import visible

    verb = "updated" if done.updated else "wrote"
    print(visible(f"{verb} {done.module} from {done.cells} cell(s) of {notebook}"))
    if done.registered:
        print(visible(f"registered graph {done.graph!r} in {done.config}"))
    else:
        print(visible(f"graph {done.graph!r} was already registered in {done.config}"))
    print(visible(f"run it: agentlab run --agent {done.reference} TASK"))


policy_app = typer.Typer(
    help="Authorization policies as data (YAML files of rules).", no_args_is_help=True
)


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
    common.console().print(policy.table(rules, policy.explain(rules, common.agent(ctx, agent))))


tools_app = typer.Typer(help="An agent's tools, as a model sees them.", no_args_is_help=True)


@tools_app.command("list")
def tools_list(
    ctx: typer.Context,
    agent: Annotated[
        str | None, typer.Option(help="The agent: module:attr or file.py:attr.")
    ] = None,
) -> None:
    """Each of the agent's tools: description, input schema, risk, flags and source."""
    from agentlab.cli import tools

    definition = common.agent(ctx, agent)
    common.console().print(tools.list_table(definition, tools.tools_of(definition)))


@tools_app.command("lint")
def tools_lint(
    ctx: typer.Context,
    agent: Annotated[
        str | None, typer.Option(help="The agent: module:attr or file.py:attr.")
    ] = None,
) -> None:
    """Flag what the agent's tools leave a model to guess: descriptions that do not say when to
    use the tool, parameters without descriptions, ids without ranges, free strings named like
    enums, read tools that take a URL or another destination but are not declared egress.
    Exit 1 if anything is flagged (for CI)."""
    from agentlab.cli import tools
    from agentlab.safe_text import visible
    from agentlab.tools.lint import lint
    from agentlab.tools.policy import tool_adjuster

    definition = common.agent(ctx, agent)
    listed = tools.tools_of(definition)
    adjust = tool_adjuster(definition.policy) if definition.policy is not None else None
    findings = lint([adjust(t) for t in listed] if adjust is not None else listed)
    for line in tools.lint_lines(findings):
        print(line)
    print(visible(f"{definition.name}: {len(listed)} tool(s), {len(findings)} finding(s)"))
    if findings:
        raise typer.Exit(1)
