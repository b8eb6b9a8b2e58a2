"""Ready-made agents ("domains"), built by name so a stored run can be rebuilt in any process."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentlab.config import Settings
from agentlab.errors import ConfigError
from agentlab.models.router import ModelRouter, ModelSpec, router_from_spec
from agentlab.orchestration.agent import Agent
from agentlab.orchestration.runner import AgentResolver

AGENT_NAMES = ("support",)


def default_options(name: str, data_dir: Path) -> dict[str, Any]:
    """The options a new run of agent ``name`` gets."""
    _check(name)
    from agentlab.domains import support

    return support.default_options(data_dir)


def resolver(settings: Settings) -> AgentResolver:
    """An ``AgentResolver`` for the runner, building agents with ``settings``."""

    def build_agent(name: str, options: Mapping[str, Any], router: ModelRouter) -> Agent:
        _check(name)
        from agentlab.domains import support

        return support.build(
            options, router, approval_cost_threshold_usd=settings.approval_cost_threshold_usd
        )

    return build_agent


def agent_for(name: str, settings: Settings, *, script: str | Path | None = None) -> Agent:
    """Agent ``name`` with its default options, on Claude, or replaying ``script`` if given."""
    router = router_from_spec(ModelSpec.choose(settings, script), settings)
    return resolver(settings)(name, default_options(name, settings.data_dir), router)


def _check(name: str) -> None:
    if name not in AGENT_NAMES:
        raise ConfigError(f"unknown agent {name!r}: choose one of {', '.join(AGENT_NAMES)}")
