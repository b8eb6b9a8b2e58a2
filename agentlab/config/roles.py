"""Which Claude model serves each role (``[models]`` in the config file), and which stronger one a
role escalates to."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

ESCALATING_ROLES = ("planner", "executor")
"""The roles that may escalate: the planner once the run's result fails validation, the executor
when the arguments it gave do not fit the tool (``models.base.ESCALATING_ROLES``, as roles)."""


class RoleModels(BaseModel):
    """Which model serves each role. Names are Anthropic model ids.

    ``escalation`` names, per role, a stronger model the run escalates to (role name -> model id,
    e.g. ``{"planner": "claude-opus-4-5"}``): the planner's from the re-plan after validation
    finds the task unfinished, for the rest of the run; the executor's for a second try at
    arguments the executor's first did not fit. Empty (the default): no role escalates.
    """

    model_config = ConfigDict(extra="forbid")

    planner: str = "claude-sonnet-4-6"
    executor: str = "claude-haiku-4-5"
    validator: str = "claude-haiku-4-5"
    responder: str = "claude-haiku-4-5"  # writes the reply that ends every run
    summarizer: str = "claude-haiku-4-5"  # folds a conversation's older turns into its summary
    judge: str = "claude-sonnet-4-6"  # grades agents' outputs against rubrics, in evals
    fallbacks: list[str] = Field(
        default_factory=lambda: ["claude-sonnet-4-6", "claude-haiku-4-5"],
        description="Models tried in order when a role's model stays overloaded after retries.",
    )
    escalation: dict[str, str] = Field(
        default_factory=dict,
        description="Per role (planner, executor), the stronger model it escalates to when "
        "validation fails or its arguments stay invalid; within the run's budgets.",
    )

    @field_validator("escalation", mode="before")
    @classmethod
    def _escalating_roles(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        for role, model in value.items():
            if role not in ESCALATING_ROLES:
                raise ValueError(
                    f"{role!r} cannot escalate: name one of {', '.join(ESCALATING_ROLES)} "
                    f'(e.g. {{planner = "claude-opus-4-5"}})'
                )
            if not isinstance(model, str) or not model.strip():
                raise ValueError(f"the {role}'s escalation model must be a model id, not {model!r}")
        return value
