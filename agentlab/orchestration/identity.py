"""Who acts, and for whom: the identity behind a run or a decision, and what it may do.

A person at the CLI is their OS user; a caller of a served surface (MCP over HTTP, a LangGraph
server) is the principal of the token it authenticated with. A run acts for a *principal*: by
default the one acting, another only where the configuration's ``[access] act_as`` grants it
(``--as``); the run records both. Killing, resuming or giving feedback on a run is for its own
principal, whoever may act as it, and the configured ``operators``.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from agentlab.config import Settings
from agentlab.errors import AgentlabError


class NotPermitted(AgentlabError):
    """Someone asked to act as a principal, or on a run, without the right to."""


@dataclass(frozen=True, slots=True)
class Identity:
    """``actor`` is who is acting (an OS user, or an authenticated token's principal);
    ``principal`` who a run acts for; ``via`` how the actor reached agentlab (``terminal``,
    ``flag``, ``notebook``, ``mcp``, ``server``)."""

    actor: str
    principal: str
    via: str = "terminal"

    @property
    def on_behalf(self) -> bool:
        """Whether the actor acts for someone else."""
        return self.actor != self.principal


def may_act_as(settings: Settings, actor: str, principal: str) -> bool:
    """Whether ``actor`` may act as ``principal``: itself, or as ``[access] act_as`` grants."""
    if actor == principal:
        return True
    granted = settings.access.act_as.get(actor, [])
    return any(fnmatch.fnmatchcase(principal, pattern) for pattern in granted)


def acting(settings: Settings, actor: str, principal: str | None, *, via: str) -> Identity:
    """The identity of ``actor`` acting for ``principal`` (default: itself), or ``NotPermitted``
    when the configuration does not grant it."""
    wanted = principal or actor
    if not may_act_as(settings, actor, wanted):
        raise NotPermitted(
            f"{actor} may not act as {wanted}: the configuration grants it no such right. Act "
            f"as yourself, or have the configuration's owner add {wanted!r} to [access] "
            f"act_as.{actor}"
        )
    return Identity(actor=actor, principal=wanted, via=via)


def may_manage(settings: Settings, actor: str, principal: str) -> bool:
    """Whether ``actor`` may kill, resume or give feedback on a run of ``principal``."""
    return actor in settings.access.operators or may_act_as(settings, actor, principal)


def check_manage(
    settings: Settings, actor: str, principal: str, *, what: str, run_id: str | None
) -> None:
    """``NotPermitted`` unless ``actor`` may ``what`` (kill, resume, ...) run ``run_id`` of
    ``principal`` (``None``: all its runs)."""
    if not may_manage(settings, actor, principal):
        subject = f"run {run_id} acts" if run_id else "those runs act"
        raise NotPermitted(
            f"{subject} for {principal}, and {actor} may not {what} another principal's "
            f"run: ask {principal} or an operator (the configuration's [access] operators), or "
            f"have {actor} granted act_as {principal}"
        )
