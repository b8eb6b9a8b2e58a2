"""Toolsets: where an agent's tools come from.

A toolset lists its tools and calls one by name. ``FunctionToolset`` holds tools declared in Python
(typed functions or JSON-schema tools); ``WrapperToolset`` filters, renames or prefixes another
toolset's tools; MCP servers and HTTP APIs are toolsets too. ``ToolRegistry`` joins an agent's
toolsets and finds the toolset behind each tool name; given an ``adjust`` function (the policy's
overrides of risk, idempotency and egress), every tool it hands out has passed through it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from agentlab.errors import ConfigError
from agentlab.tools.tool import Tool, ToolContext


@runtime_checkable
class Toolset(Protocol):
    """A source of tools."""

    async def list_tools(self) -> Sequence[Tool]:
        """The tools this toolset offers now."""
        ...

    async def call_tool(self, name: str, arguments: dict[str, Any], ctx: ToolContext) -> Any:
        """Run tool ``name`` with already validated ``arguments``; return its output."""
        ...


class FunctionToolset:
    """Tools declared in Python: ``@tool`` functions and ``Tool.from_schema`` tools."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for t in tools:
            self.add(t)

    def add(self, tool: Tool) -> Tool:
        """Add ``tool`` (usable as a decorator after ``@tool``); names must be unique."""
        if tool.name in self._tools:
            raise ValueError(f"two tools are named {tool.name!r}")
        self._tools[tool.name] = tool
        return tool

    @property
    def tools(self) -> list[Tool]:
        return list(self._tools.values())

    async def list_tools(self) -> Sequence[Tool]:
        return self.tools

    async def call_tool(self, name: str, arguments: dict[str, Any], ctx: ToolContext) -> Any:
        return await self._tools[name].handler(ctx, arguments)


class WrapperToolset:
    """Another toolset's tools, filtered, renamed and/or prefixed.

    ``include``/``exclude`` take the inner names; ``rename`` maps inner names to new ones;
    ``prefix`` goes before every (renamed) name.
    """

    def __init__(
        self,
        inner: Toolset,
        *,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] = (),
        rename: Mapping[str, str] | None = None,
        prefix: str = "",
        where: Callable[[Tool], bool] | None = None,
    ) -> None:
        self.inner = inner
        self._include = set(include) if include is not None else None
        self._exclude = set(exclude)
        self._rename = dict(rename or {})
        self._prefix = prefix
        self._where = where

    def _outer_name(self, inner: str) -> str:
        return self._prefix + self._rename.get(inner, inner)

    def _keeps(self, tool: Tool) -> bool:
        if self._include is not None and tool.name not in self._include:
            return False
        if tool.name in self._exclude:
            return False
        return self._where is None or self._where(tool)

    async def list_tools(self) -> Sequence[Tool]:
        return [
            t.renamed(self._outer_name(t.name))
            for t in await self.inner.list_tools()
            if self._keeps(t)
        ]

    async def call_tool(self, name: str, arguments: dict[str, Any], ctx: ToolContext) -> Any:
        for t in await self.inner.list_tools():
            if self._keeps(t) and self._outer_name(t.name) == name:
                return await self.inner.call_tool(t.name, arguments, ctx)
        raise KeyError(name)


class ToolRegistry:
    """An agent's toolsets joined: each tool name leads to one tool and the toolset that runs it.

    Tools are listed on first use and kept, so building an agent does no I/O. ``adjust`` (when
    given) turns each listed tool into the one handed out: a policy's word on its risk.
    """

    def __init__(
        self, toolsets: Sequence[Toolset], *, adjust: Callable[[Tool], Tool] | None = None
    ) -> None:
        self.toolsets = tuple(toolsets)
        self.adjust = adjust
        self._index: dict[str, tuple[Tool, Toolset]] | None = None

    def adjusted(self, adjust: Callable[[Tool], Tool]) -> ToolRegistry:
        """The same toolsets, each tool passed through this registry's ``adjust``, then
        ``adjust``."""
        inner = self.adjust
        if inner is None:
            return ToolRegistry(self.toolsets, adjust=adjust)
        return ToolRegistry(self.toolsets, adjust=lambda t: adjust(inner(t)))

    async def index(self) -> dict[str, tuple[Tool, Toolset]]:
        if self._index is None:
            index: dict[str, tuple[Tool, Toolset]] = {}
            for toolset in self.toolsets:
                for t in await toolset.list_tools():
                    if t.name in index:
                        raise ConfigError(
                            f"two tools are named {t.name!r}: rename one, e.g. with "
                            "WrapperToolset(toolset, prefix=...)"
                        )
                    index[t.name] = (self.adjust(t) if self.adjust else t, toolset)
            self._index = index
        return self._index

    async def tools(self) -> list[Tool]:
        return [t for t, _ in (await self.index()).values()]

    async def get(self, name: str) -> Tool | None:
        found = (await self.index()).get(name)
        return found[0] if found else None

    async def call(self, name: str, arguments: dict[str, Any], ctx: ToolContext) -> Any:
        _, toolset = (await self.index())[name]
        return await toolset.call_tool(name, arguments, ctx)
