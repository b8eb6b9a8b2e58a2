"""``agentlab mcp serve``: an agent's tools and the agent itself, served over MCP.

Only Typer is imported here: ``app.py`` registers this sub-app, and ``agentlab --help`` must stay
fast, so the SDK and the serving layer load inside the command.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import socket
    from collections.abc import Sequence

    from agentlab.orchestration import Request
    from agentlab.serving import AgentServer, DecideHint

mcp_app = typer.Typer(help="Serve agents over MCP (Model Context Protocol).", no_args_is_help=True)


@mcp_app.command("serve")
def serve(
    ctx: typer.Context,
    agent: Annotated[
        str | None,
        typer.Option(
            metavar="REF",
            help="The agent: 'package.module:attr' or 'path/to/file.py:attr' "
            "(default: the configured default_agent).",
        ),
    ] = None,
    script: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", help="Runs of run_task replay this scripted-model file, not Claude."
        ),
    ] = None,
    principal: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="NAME",
            help="Over stdio: who served calls and runs act for (default: your OS user; "
            "another only if the configuration grants it). Over --http each caller's token says.",
        ),
    ] = None,
    http: Annotated[
        bool,
        typer.Option(
            "--http",
            help="Serve streamable HTTP on 127.0.0.1 instead of stdio; callers authenticate "
            "with a bearer token from 'agentlab tokens create'.",
        ),
    ] = False,
    port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            metavar="PORT",
            help="With --http: the port (default 8000; 0: a free one).",
        ),
    ] = None,
) -> None:
    """Serve the agent's tools, under its policy, and the agent itself as the tool run_task.

    A tool call the policy asks a human about is refused (run_task's runs pause for approval
    instead); a denied call always is. Over stdio by default; --http serves
    http://127.0.0.1:PORT/mcp, reachable from this machine only, to callers with a token.
    """
    import asyncio

    from agentlab.cli import common
    from agentlab.models.router import ModelSpec
    from agentlab.serving import AgentServer, listen

    if port is not None and not http:
        raise typer.BadParameter("--port goes with --http")
    if principal is not None and http:
        raise typer.BadParameter(
            "over --http each caller acts as its token's principal: leave out --as, and create "
            "a token per caller with 'agentlab tokens create --principal NAME'"
        )
    settings = common.settings(ctx)
    identity = common.identity(settings, principal)
    server = AgentServer(
        agent or settings.default_agent,
        settings,
        decide_hint=_decide_hint(ctx),
        principal=identity.principal,
        # As `agentlab run` does: a script for the runs, else the agent's own models.
        models=ModelSpec(kind="scripted", script=str(script.resolve())) if script else None,
    )
    sock = listen(8000 if port is None else port) if http else None
    try:
        asyncio.run(_serve(server, sock))
    except KeyboardInterrupt:  # Ctrl-C is how a server is stopped: not a failure
        print("stopped serving", file=sys.stderr)
    finally:
        if sock is not None:
            sock.close()


async def _serve(server: AgentServer, sock: socket.socket | None) -> None:
    from agentlab.cli.words import CLI_WORDS
    from agentlab.safe_text import visible

    async with server:
        problem = server.models_problem()  # a script that cannot be read is an error here
        host, port = sock.getsockname()[:2] if sock is not None else ("", 0)
        where = f"http://{host}:{port}/mcp" if sock is not None else "stdio"
        serving = (
            f"serving agent {server.agent.name} ({server.reference}) as {server.principal} over "
            f"MCP at {where}: {', '.join(server.tool_names)}"
        )
        print(visible(serving), file=sys.stderr, flush=True)
        if problem:
            said = problem.worded(CLI_WORDS)
            print(visible(f"warning: run_task cannot start runs: {said}"), file=sys.stderr)
        if sock is None:
            await server.serve_stdio()
        else:
            await server.serve_http(sock)


def _decide_hint(ctx: typer.Context) -> DecideHint:
    """The ``agentlab resume`` command lines that answer a paused run, with this command's
    --config and --data-dir, so they reach the same runs whatever the human's environment."""
    from agentlab.cli import render

    options = ctx.obj
    flags = [
        f"{flag} {shlex.quote(str(Path(value).resolve()))} "
        for flag, value in (("--config", options.config), ("--data-dir", options.data_dir))
        if value is not None
    ]

    def hint(run_id: str, requests: Sequence[Request]) -> str:
        return render.decide_hint(run_id, requests).replace(
            "agentlab ", "agentlab " + "".join(flags), 1
        )

    return hint
