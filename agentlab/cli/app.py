"""The ``agentlab`` command line: the Typer app, its global options, and the entry point.

The commands live in a module per group (``running``, ``reading``, ``deciding``, ``agents``,
``mcp``, ``phoenix``, ``chroma``); they reach runs only through the ``Runner``'s API. Only Typer
is imported at module level: ``agentlab --help`` must stay fast, so LangGraph, Pydantic settings
and the SDKs load inside the commands that use them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from agentlab.cli import agents, chat, common, deciding, reading, running
from agentlab.cli.chroma import chroma_command
from agentlab.cli.conversations import sessions_app
from agentlab.cli.evals import eval_app
from agentlab.cli.kb import kb_app
from agentlab.cli.mcp import mcp_app
from agentlab.cli.memory import memory_app
from agentlab.cli.phoenix import phoenix_command
from agentlab.cli.tokens import tokens_app

app = typer.Typer(
    name="agentlab",
    help="Run, approve and inspect durable LLM agent runs.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
    rich_markup_mode=None,  # plain help: no type noise such as <bool> on flags
)


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
    ctx.obj = common.Options(config, data_dir)


# In the order `agentlab --help` lists them.
app.command()(running.run)
app.command()(chat.chat)
app.command()(running.demo)
app.command()(agents.agents)
app.command()(agents.promote)
app.command()(reading.runs)
app.command()(reading.show)
app.add_typer(sessions_app, name="sessions")
app.add_typer(memory_app, name="memory")
app.command()(deciding.resume)
app.add_typer(agents.policy_app, name="policy")
app.add_typer(mcp_app, name="mcp")
app.add_typer(tokens_app, name="tokens")
app.add_typer(kb_app, name="kb")
app.add_typer(agents.tools_app, name="tools")
app.add_typer(eval_app, name="eval")
app.command()(reading.doctor)
app.command("phoenix")(phoenix_command)
app.command("chroma")(chroma_command)
app.command()(reading.costs)
app.command()(deciding.kill)
app.command()(deciding.feedback)


def main() -> None:
    """Entry point: ``agentlab`` with the process's arguments; exits with ``execute``'s code."""
    sys.exit(execute(sys.argv[1:]))


def execute(argv: Sequence[str]) -> int:
    """Run the command line on ``argv`` (without the program name) and return its exit code.

    User mistakes print one ``error:`` line to stderr (the advice in the command line's words)
    and return 2; bugs keep their traceback. Typer runs outside its standalone mode so that usage
    errors read like every other error. Ctrl-C becomes exit code 130 in Typer; a command driving
    a run first says which run is saved. Tests call this in process, so they see what users see.
    """
    # Typer (>= 0.29) vendors Click: its usage errors are these classes.
    from typer._click.exceptions import NoArgsIsHelpError, UsageError

    from agentlab.cli.words import CLI_WORDS
    from agentlab.errors import AgentlabError
    from agentlab.safe_text import visible

    try:
        # Outside standalone mode Click returns the code of a `typer.Exit` instead of exiting.
        code = app(args=list(argv), prog_name="agentlab", standalone_mode=False)
    except NoArgsIsHelpError as exc:  # bare `agentlab`: its help, not an error
        print(exc.ctx.get_help() if exc.ctx else exc.format_message())
        return 0
    except UsageError as exc:
        hint = f"; see '{exc.ctx.command_path} --help'" if exc.ctx else ""
        print(visible(f"error: {exc.format_message().rstrip('.')}{hint}"), file=sys.stderr)
        return 2
    except AgentlabError as exc:
        print(visible(f"error: {exc.worded(CLI_WORDS)}"), file=sys.stderr)
        return 2
    except typer.Abort:  # end of input at a prompt
        print("interrupted", file=sys.stderr)
        return 130
    return code if isinstance(code, int) else 0
