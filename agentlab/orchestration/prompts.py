"""What each role is asked, and the structured answers it must give.

Prompts carry the task and a bounded digest of what happened (the latest results, the latest
feedback), never the whole transcript: the cost of a call does not grow with the run.

System prompts are the templates of the run's version of the prompts (``prompt_book.py``). A
role's tools and system prompt are the same on every call of a run (tools and catalog in name
order, schemas as declared), and only the user message varies: the provider caches that prefix,
so every call after the first reads it from the cache instead of paying for it again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agentlab.models.base import CallInfo, ModelRequest, Role, ToolSpec
from agentlab.models.messages import user
from agentlab.orchestration.prompt_book import PromptBook
from agentlab.orchestration.state import Approval, PlanStep, StepResult
from agentlab.tools.policy import PolicyDecision
from agentlab.tools.tool import Tool

RECENT_RESULTS = 8
OUTPUT_CHARS = 1500


class PlannedStep(BaseModel):
    """One step as the planner writes it."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1, description="What this step achieves, in one line.")
    tool: str = Field(min_length=1, description="The name of the tool the step calls.")
    arguments: dict[str, Any] = Field(
        default_factory=dict,
        description="Arguments known now; leave out values that depend on earlier steps' results.",
    )
    destructive: bool = Field(
        False, description="True if the step deletes or irreversibly changes data."
    )
    estimated_cost_usd: float = Field(0.0, ge=0, description="Expected cost of the step in USD.")
    depends_on: list[int] | None = Field(
        None,
        description=(
            "The numbers (1 is the first step) of the earlier steps whose results this step "
            "needs; [] if it needs none. Steps whose dependencies are done run at the same time. "
            "Leave it out to run the step after the one before it."
        ),
    )


class PlanSubmission(BaseModel):
    """The planner's answer: the steps to take, or why the task cannot be done."""

    model_config = ConfigDict(extra="forbid")

    steps: list[PlannedStep] = Field(default_factory=list, max_length=1000)
    give_up: str | None = Field(
        None, description="Set only when the task cannot be done with these tools: say why."
    )
    reply: str | None = Field(
        None,
        description="Set instead of steps when the message needs no tool (a greeting, or a "
        "question the conversation already answers): your answer to the user.",
    )


class Verdict(BaseModel):
    """The validator's answer."""

    model_config = ConfigDict(extra="forbid")

    complete: bool = Field(description="True if the results accomplish the whole task.")
    reason: str = Field(min_length=1, description="Why, in one or two sentences.")


def _schema_tool(name: str, description: str, model: type[BaseModel]) -> ToolSpec:
    schema = model.model_json_schema()
    schema.pop("title", None)
    return ToolSpec(name, description, schema)


SUBMIT_PLAN = _schema_tool(
    "submit_plan", "Submit the plan: the ordered steps that accomplish the task.", PlanSubmission
)
SUBMIT_VERDICT = _schema_tool("submit_verdict", "Submit whether the task is accomplished.", Verdict)


def _tool_catalog(tools: Sequence[tuple[Tool, PolicyDecision]]) -> str:
    lines = []
    for t, decision in sorted(tools, key=lambda pair: pair[0].name):
        flags = [t.risk.value]
        if decision.verdict.value == "ask":
            flags.append("needs human approval")
        elif decision.verdict.value == "deny":
            flags.append("not allowed: " + ", ".join(decision.reasons))
        schema = json.dumps(t.spec.input_schema, separators=(",", ":"))
        lines.append(f"- {t.name} ({', '.join(flags)}): {t.description}\n  arguments: {schema}")
    return "\n".join(lines)


def digest(results: Sequence[StepResult]) -> str:
    if not results:
        return "No steps have run yet."
    shown = results[-RECENT_RESULTS:]
    lines = (
        [f"({len(results) - len(shown)} earlier results omitted)"]
        if len(shown) < len(results)
        else []
    )
    for r in shown:
        o = r["outcome"]
        body = json.dumps(o["output"], default=str) if o["ok"] else f"ERROR: {o['error']}"
        if len(body) > OUTPUT_CHARS:
            body = body[:OUTPUT_CHARS] + "…"
        args = json.dumps(r["arguments"], default=str)
        lines.append(f"- step {r['step_id']} {r['tool']}({args}) -> {body}")
    return "\n".join(lines)


def planner_request(
    agent: tuple[str, str],
    tools: Sequence[tuple[Tool, PolicyDecision]],
    task: str,
    *,
    results: Sequence[StepResult],
    approvals: Sequence[Approval],
    feedback: str,
    call: CallInfo,
    prompts: PromptBook,
) -> ModelRequest:
    """``agent`` is its name and purpose; ``tools`` come with what the policy says of each;
    ``prompts`` the version of the system prompts the run uses."""
    name, purpose = agent
    system = prompts.system(Role.PLANNER, name=name, purpose=purpose, tools=_tool_catalog(tools))
    rejected = [a for a in approvals if not a["approved"]]
    parts = [f"Task: {task}", f"Results so far:\n{digest(results)}"]
    if rejected:
        parts.append(
            "Rejected by a human (do not plan these again):\n"
            + "\n".join(
                f"- {a['tool']} in step {a['step_id']}: {a['note'] or 'no reason given'}"
                for a in rejected
            )
        )
    if feedback:
        parts.append(f"Why we are planning again: {feedback}")
    return ModelRequest(
        role=Role.PLANNER,
        system=system,
        messages=(user("\n\n".join(parts)),),
        tools=(SUBMIT_PLAN,),
        tool_choice=SUBMIT_PLAN.name,
        max_tokens=4096,
        call=call,
    )


def executor_request(
    task: str,
    step: PlanStep,
    tools: Sequence[Tool],
    *,
    results: Sequence[StepResult],
    problem: str,
    call: CallInfo,
    prompts: PromptBook,
) -> ModelRequest:
    """``tools`` are all the agent's tools, so every executor call of a run sends the same
    (cacheable) tool list; ``tool_choice`` forces the step's tool."""
    [tool] = [t for t in tools if t.name == step["tool"]]
    system = prompts.system(Role.EXECUTOR)
    text = (
        f"Task: {task}\n\nCurrent step {step['id']}: {step['description']}\n"
        f"Tool: {tool.name}\nPlanned arguments: {json.dumps(step['arguments'], default=str)}\n"
        f"Missing or invalid: {problem}\n\nResults so far:\n{digest(results)}"
    )
    return ModelRequest(
        role=Role.EXECUTOR,
        system=system,
        messages=(user(text),),
        tools=tuple(t.spec for t in sorted(tools, key=lambda t: t.name)),
        tool_choice=tool.name,
        call=call,
    )


def validator_request(
    task: str,
    *,
    plan: Sequence[PlanStep],
    results: Sequence[StepResult],
    call: CallInfo,
    prompts: PromptBook,
) -> ModelRequest:
    system = prompts.system(Role.VALIDATOR)
    steps = "\n".join(f"- {s['id']}: {s['description']} ({s['tool']})" for s in plan)
    text = f"Task: {task}\n\nPlan:\n{steps or '(no steps)'}\n\nResults:\n{digest(results)}"
    return ModelRequest(
        role=Role.VALIDATOR,
        system=system,
        messages=(user(text),),
        tools=(SUBMIT_VERDICT,),
        tool_choice=SUBMIT_VERDICT.name,
        call=call,
    )
