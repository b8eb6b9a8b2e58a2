"""A named collection of tools, and the authorization check every call passes through."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from agentlab.models.base import ToolSpec
from agentlab.tools.base import Tool


class Toolset:
    """The tools one agent may use, looked up by name."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools: dict[str, Tool] = {}
        for t in tools:
            if t.name in self._tools:
                raise ValueError(f"two tools are named {t.name!r}")
            self._tools[t.name] = t

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(t.spec for t in self._tools.values())


def authorization_error(tool: Tool, *, approved: bool) -> str | None:
    """Why a call of ``tool`` may not run now, or ``None`` when it may.

    The approval gate normally stops such calls before they get here; this is the second lock, so no
    path through the graph can run a destructive tool without a recorded approval.
    """
    if tool.needs_approval and not approved:
        why = "is destructive" if tool.permission.value == "destructive" else "needs confirmation"
        return f"{tool.name} {why} and was not approved by a human"
    return None
