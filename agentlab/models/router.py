"""The router: which model (a stack of wrappers around a provider) answers each role of a run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from agentlab.config import RoleModels, Settings
from agentlab.errors import ConfigError, Fix, ModelUnavailableError
from agentlab.models.base import (
    ESCALATING_ROLES,
    REQUIRED_ROLES,
    Model,
    ModelRequest,
    ModelResponse,
    Role,
    TokenCounting,
)
from agentlab.models.pricing import Pricing
from agentlab.models.script import Script, load_script
from agentlab.models.scripted import ScriptedModel
from agentlab.models.wrappers import FallbackModel


@dataclass(frozen=True)
class ModelRouter:
    """Maps each role to a model. ``source`` says, for people, where answers come from.

    The planner, executor and validator must have one; a router without a responder (or
    summarizer) model has the reply (or a conversation's summary) written from the run's record.
    Only evals ask the judge. ``escalations`` maps a role (planner, executor) to the stronger
    model it escalates to; a role without one never escalates.
    """

    models: Mapping[Role, Model]
    source: str
    counts: TokenCounting | None = None
    """The provider's own token counts, when its models have them (Claude's)."""
    escalations: Mapping[Role, Model] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [r.value for r in REQUIRED_ROLES if r not in self.models]
        if missing:
            raise ConfigError(f"no model configured for role(s): {', '.join(missing)}")
        for role, model in [*self.models.items(), *self.escalations.items()]:
            if not isinstance(model, Model):
                raise ConfigError(
                    f"the {role.value} model {model!r} is not a Model: it needs a name, "
                    "pricing() and request() (agentlab.models.Model); wrap another model with "
                    "WrapperModel to keep its pricing"
                )
        for role in self.escalations:
            if role not in ESCALATING_ROLES:
                raise ConfigError(
                    f"the {role.value} cannot escalate: only "
                    f"{' and '.join(r.value for r in ESCALATING_ROLES)} escalation models are used"
                )

    def for_role(self, role: Role, *, escalated: bool = False) -> Model:
        """``role``'s model; ``escalated``: the stronger one it escalates to (it must have one)."""
        return self.escalations[role] if escalated else self.models[role]

    def escalated(self, role: Role) -> Model | None:
        """The stronger model ``role`` escalates to, or ``None``: it does not escalate."""
        return self.escalations.get(role)

    def serves(self, role: Role) -> bool:
        """Whether a model answers ``role`` (the responder, summarizer and judge are optional)."""
        return role in self.models

    def wrapped(self, wrap: Callable[[Model], Model]) -> ModelRouter:
        """Every role's model, escalation models too, inside ``wrap`` (a wrapper stacked on top:
        budgets, tracing)."""
        return replace(
            self,
            models={role: wrap(model) for role, model in self.models.items()},
            escalations={role: wrap(model) for role, model in self.escalations.items()},
        )

    async def request(self, request: ModelRequest) -> ModelResponse:
        """Ask the request's role's model: its escalation model when the call is escalated."""
        model = self.for_role(request.role, escalated=bool(request.call.escalation))
        return await model.request(request)


def no_key_error(who: str = "") -> ConfigError:
    """Claude was asked for (by ``who``, if named) but there is no key to call it with."""
    lead = f"{who} needs a model: " if who else ""
    return ConfigError(f"{lead}no ANTHROPIC_API_KEY is set", fix=Fix.OFFLINE)


class _NoModel:
    """Stands in for a model that cannot be built here: every request fails with ``why``."""

    def __init__(self, why: str) -> None:
        self._why = why

    @property
    def name(self) -> str:
        return "unavailable"

    def pricing(self) -> Pricing:
        return Pricing("unavailable", None)

    async def request(self, request: ModelRequest) -> ModelResponse:
        raise ModelUnavailableError(self._why)


def unavailable_router(why: str) -> ModelRouter:
    """A router whose models all fail with ``why``: enough to read a stored run, not to run one."""
    return ModelRouter({role: _NoModel(why) for role in Role}, source=f"models unavailable ({why})")


def scripted_router(script: Script, *, source: str | Path = "") -> ModelRouter:
    """Every role replays its turns from ``script``; the responder, summarizer and judge only if
    the script has turns for them (else replies and summaries are written from the record, and
    evals have no judge to ask). A role of the script's ``escalation`` section escalates to a
    model replaying those turns."""
    label = str(source) or "inline script"
    models = {
        role: ScriptedModel(
            script.roles.get(role, []),
            name=f"scripted-{role.value}",
            source=label,
            priced_as=script.priced_as,
            latency_s=script.latency_s,
        )
        for role in Role
        if role in REQUIRED_ROLES or role in script.roles
    }
    stronger = {
        role: ScriptedModel(
            turns,
            name=f"scripted-{role.value}-escalated",
            source=f"{label} (escalation)",
            priced_as=script.escalation_priced_as or script.priced_as,
            latency_s=script.latency_s,
        )
        for role, turns in script.escalation.items()
    }
    priced = f"; simulated cost, priced as {script.priced_as}" if script.priced_as else ""
    return ModelRouter(
        models,
        source=f"scripted model replaying {label} (no LLM is called{priced})",
        escalations=stronger,
    )


def claude_router(settings: Settings, roles: RoleModels | None = None) -> ModelRouter:
    """Each role uses its Claude model (from ``roles``, else the configured ``[models]``) through
    the ``anthropic`` SDK, falling back to the configured fallbacks while overloaded; a role with
    an ``escalation`` model escalates to it, retried and falling back the same way."""
    if not settings.has_anthropic_key:
        raise no_key_error()
    from agentlab.models.anthropic import claude_client, claude_model  # the SDK only when used
    from agentlab.models.counting import ClaudeTokenCounts

    client = claude_client(settings)
    roles = roles or settings.models

    def claude(name: str) -> Model:
        return claude_model(
            name, client, stream=settings.anthropic_stream, prompt_caching=settings.prompt_caching
        )

    def with_fallbacks(name: str) -> Model:
        tried = list(dict.fromkeys([name, *roles.fallbacks]))
        return claude(tried[0]) if len(tried) == 1 else FallbackModel([claude(n) for n in tried])

    models: dict[Role, Model] = {role: with_fallbacks(getattr(roles, role.value)) for role in Role}
    stronger = {Role(role): with_fallbacks(name) for role, name in roles.escalation.items()}
    endpoint = settings.anthropic_base_url or "api.anthropic.com"
    names = ", ".join(f"{r.value}={m.name}" for r, m in models.items())
    names += "".join(f", {r.value} escalates to {m.name}" for r, m in stronger.items())
    counts = ClaudeTokenCounts(client, roles.planner)
    return ModelRouter(
        models, source=f"Claude via {endpoint} ({names})", counts=counts, escalations=stronger
    )


class ModelSpec(BaseModel):
    """How a run's models are built, stored with the run so another process can rebuild them."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["scripted", "anthropic"]
    script: str | None = None

    @classmethod
    def choose(cls, settings: Settings, script: str | Path | None) -> ModelSpec:
        """A script when given, else Claude when a key is set; otherwise say what to do."""
        if script is not None:
            return cls(kind="scripted", script=str(Path(script).resolve()))
        if settings.has_anthropic_key:
            return cls(kind="anthropic")
        raise no_key_error()


def router_from_spec(spec: ModelSpec, settings: Settings) -> ModelRouter:
    """Build the router a ``ModelSpec`` describes."""
    if spec.kind == "scripted":
        if spec.script is None:
            raise ConfigError("a scripted model spec needs the path of its script")
        return scripted_router(load_script(spec.script), source=spec.script)
    return claude_router(settings)
