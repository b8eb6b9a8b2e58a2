"""What the commands share: the global options, settings, console, runner and option parsing.

Heavy modules (LangGraph, Pydantic settings, the SDKs) load inside the functions that need them:
``agentlab --help`` imports none of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from agentlab.config import Settings
    from agentlab.orchestration import Agent, SyncRunner
    from agentlab.orchestration.identity import Identity

PRINCIPAL_HELP = (
    "Who the run acts for (default: your OS user; another only where the configuration's "
    "[access] act_as grants it)."
)
RUN_HELP = "A run id from 'agentlab runs'."
PROMPTS_HELP = (
    "Run with the version of the system prompts in this directory (planner.md, executor.md, "
    "validator.md, responder.md, summarizer.md; default: the configured prompts_dir, else the "
    "built-in prompts)."
)


@dataclass
class Options:
    """The options given before the command: ``--config`` and ``--data-dir``."""

    config: Path | None
    data_dir: Path | None


def settings(ctx: typer.Context, **overrides: object) -> Settings:
    """The settings of this invocation (config file, environment, ``--data-dir``); warnings
    reach stderr with secrets masked."""
    from agentlab.config import load_settings
    from agentlab.observability.logs import log_redacted

    opts: Options = ctx.obj
    loaded = load_settings(opts.config, data_dir=opts.data_dir, **overrides)
    log_redacted(loaded)
    return loaded


def check_prompts(loaded: Settings) -> None:
    """Refuse a prompt directory that holds no valid version before anything starts."""
    if loaded.prompts_dir is not None:
        from agentlab.orchestration.prompt_book import load_prompts

        load_prompts(loaded.prompts_dir)


def identity(loaded: Settings, principal: str | None, *, via: str = "terminal") -> Identity:
    """Who acts at this terminal (the OS user) and for whom (``--as``, if granted)."""
    from agentlab.orchestration.context import default_principal
    from agentlab.orchestration.identity import acting

    return acting(loaded, default_principal(), principal, via=via)


def console() -> Console:
    from rich.console import Console

    return Console(highlight=False, emoji=False)  # ":name:" in data stays as written


def runner(loaded: Settings, principal: str | None = None) -> SyncRunner:
    """A runner acting as the OS user at this terminal, for ``principal`` (``--as``) if the
    configuration grants it: runs, kills and decisions are held to that user's rights."""
    from agentlab.orchestration import SyncRunner

    return SyncRunner(loaded, identity=identity(loaded, principal))


def agent(ctx: typer.Context, reference: str | None) -> Agent:
    """The agent ``reference`` names, else the configured default agent."""
    from agentlab.orchestration import load_agent, normalize_reference

    return load_agent(normalize_reference(reference or settings(ctx).default_agent))


def json_option(flag: str, text: str) -> Any:
    """The JSON value of ``flag``, or a usage error saying where it does not parse."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{flag} must be JSON ({exc.msg} at column {exc.colno})") from None


def check_score(flag: str, score: str | None) -> None:
    from agentlab.observability.feedback import SCORES

    if score is not None and score not in SCORES:
        raise typer.BadParameter(f"{flag} takes good or bad, not {score!r}")
