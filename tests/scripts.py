"""Helpers that write scripted-model turns for tests."""

from __future__ import annotations

import json
from typing import Any


def step(
    tool: str,
    description: str = "",
    destructive: bool = False,
    cost: float = 0.0,
    after: list[int] | None = None,
    **arguments: Any,
) -> dict[str, Any]:
    """A planned step; ``after`` lists the (1-based) steps it depends on ([]: none)."""
    planned = {
        "description": description or f"call {tool}",
        "tool": tool,
        "arguments": arguments,
        "destructive": destructive,
        "estimated_cost_usd": cost,
    }
    if after is not None:
        planned["depends_on"] = after
    return planned


def plan(*steps: dict[str, Any], give_up: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"steps": list(steps)}
    if give_up:
        body["give_up"] = give_up
    return {"tool_use": {"name": "submit_plan", "input": body}}


def call(tool: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_use": {"name": tool, "input": arguments}}


def verdict(complete: bool, reason: str = "checked") -> dict[str, Any]:
    return {
        "tool_use": {"name": "submit_verdict", "input": {"complete": complete, "reason": reason}}
    }


def script(
    planner: list[dict[str, Any]] = (),
    executor: list[dict[str, Any]] = (),  # type: ignore[assignment]
    validator: list[dict[str, Any]] = (),
) -> str:  # type: ignore[assignment]
    """A script as text (JSON is YAML)."""
    return json.dumps(
        {
            "roles": {
                "planner": list(planner),
                "executor": list(executor),
                "validator": list(validator),
            }
        }
    )
