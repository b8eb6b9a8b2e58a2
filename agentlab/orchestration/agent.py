"""An agent definition: what a user writes to make an agent, in any module.

A definition is data: name, purpose, toolsets, approval policy, models per role, limits, and a
factory for what its tools need (``deps``). A run records the definition's reference
(``package.module:attr`` or ``path/to/file.py:attr``), so any process can rebuild it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentlab.config import RoleModels, Settings
from agentlab.events import RunEvent
from agentlab.models.router import ModelRouter
from agentlab.orchestration.limits import Limits
from agentlab.tools.policy import Policy
from agentlab.tools.tool import Tool, tool
from agentlab.tools.toolset import FunctionToolset, Toolset

if TYPE_CHECKING:
    from agentlab.orchestration.result import RunResult, SyncRunResult

DepsFactory = Callable[[Path, Mapping[str, Any]], Any]
"""Builds what an agent's tools need from the data directory and the run's options."""


@dataclass(frozen=True)
class Evidence:
    """What a deterministic check sees: the task, the latest plan, every result, the deps."""

    task: str
    plan: Sequence[Mapping[str, Any]]
    results: Sequence[Mapping[str, Any]]
    deps: Any


Check = Callable[[Evidence], Any]
"""A deterministic validator: returns ``(complete, reason)`` (or awaits to it); sync checks run in
a worker thread."""


@dataclass(frozen=True)
class Agent:
    """An agent, as its author defines it.

    - ``purpose`` tells the planner what the agent is for (one or two sentences).
    - ``tools``: typed functions (or ``@tool``s) the agent may call: the short path for a few
      tools of one's own; they join ``toolsets``, where tools come from (MCP servers...).
    - ``policy`` decides which calls need a human (default: ``DefaultPolicy`` with the configured
      ``approval_cost_threshold_usd``).
    - ``models``: Claude model ids per role (``RoleModels``), or a ready ``ModelRouter`` (e.g.
      scripted, for tests); ``None`` uses the configured ``[models]``.
    - ``limits``: the run limits (default: the configured ``max_iterations``).
    - ``check(evidence)``: a deterministic validator (e.g. a database query) used instead of the
      validator model; it returns ``(complete, reason)``.
    - ``memory``: whether the agent remembers its interactions with each principal across
      sessions and recalls them into its turns (long-term memory, ``[memory]``; on by default).
    - ``deps(data_dir, options)`` builds what the tools get as ``ctx.deps`` (sync factories run in
      a worker thread); it is called on the first tool call of a run, never at import, once per
      options, and what it returns is closed (``aclose()``/``close()``) with the ``Runner``.
    """

    name: str
    purpose: str
    toolsets: Sequence[Toolset] = ()
    tools: Sequence[Tool | Callable[..., Any]] = field(default=(), repr=False)
    policy: Policy | None = None
    models: RoleModels | ModelRouter | None = None
    limits: Limits | None = None
    deps: DepsFactory | None = field(default=None, repr=False)
    check: Check | None = field(default=None, repr=False)
    memory: bool = True

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("an agent needs a name")
        if not self.purpose.strip():
            raise ValueError(f"agent {self.name!r} needs a purpose: the planner is told it")
        self._own_tools  # noqa: B018 - a tool that cannot be declared fails here, not in a run

    async def run(
        self,
        task: str,
        *,
        script: str | Path | None = None,
        settings: Settings | None = None,
        on_event: Callable[[RunEvent], None] | None = None,
        **start: Any,
    ) -> RunResult:
        """Run ``task`` durably and follow it until it ends or waits for a person; the result
        says which, and answers (``await result.approve()``). ``script`` replays a scripted
        model; ``settings`` default to the configured ones; ``start`` are ``Runner.start``'s
        (``principal``, ``session``, ``options``, ``limits``, ``models``)."""
        from agentlab.orchestration.result import run_agent

        return await run_agent(
            self, task, script=script, settings=settings, on_event=on_event, **start
        )

    def run_sync(
        self,
        task: str,
        *,
        script: str | Path | None = None,
        settings: Settings | None = None,
        on_event: Callable[[RunEvent], None] | None = None,
        **start: Any,
    ) -> SyncRunResult:
        """``run`` for code that does not await: ``result = agent.run_sync(task)``, then
        ``result.approve()`` if ``result.waiting``."""
        from agentlab.orchestration.result import run_agent_sync

        return run_agent_sync(
            self, task, script=script, settings=settings, on_event=on_event, **start
        )

    @property
    def all_toolsets(self) -> tuple[Toolset, ...]:
        """Where the agent's tools come from: its own ``tools`` (one toolset), then
        ``toolsets``."""
        own = self._own_tools
        return (own, *self.toolsets) if own is not None else tuple(self.toolsets)

    @cached_property
    def _own_tools(self) -> FunctionToolset | None:
        if not self.tools:
            return None
        return FunctionToolset([t if isinstance(t, Tool) else tool(t) for t in self.tools])
