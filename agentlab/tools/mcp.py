"""MCP servers as toolsets: an agent lists servers and their tools join its own.

``MCPToolset(MCPServer.stdio(...))`` or ``MCPToolset(MCPServer.http(...))`` connects on first use
(never when an agent is defined: definitions are imported by the CLI and the LangGraph server),
maps each MCP tool to a ``Tool`` (its input schema validated like any schema tool, its annotations
mapped to risk, idempotency and egress), and calls it through the one executor, so policy,
journal, timeout and events are the same as for local tools. A server that dies is restarted on
the next call; meanwhile its calls fail as error results.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from agentlab.errors import AgentlabError
from agentlab.tools.tool import (
    DEFAULT_TIMEOUT_S,
    EffectUnknown,
    Risk,
    Tool,
    ToolContext,
    ToolError,
)

if TYPE_CHECKING:  # the SDK is imported on first connection: it takes a second to import
    import mcp.types as mcp_types
    from mcp import ClientSession

__all__ = ["MCPServer", "MCPServerError", "MCPToolset", "from_hints", "tool_options"]

SOURCE_PREFIX = "mcp:"
"""How the ``source`` of every tool an ``MCPToolset`` lists begins."""


class MCPServerError(AgentlabError):
    """An MCP server could not be started or reached, or did not list its tools."""


@dataclass(frozen=True)
class MCPServer:
    """How to reach an MCP server: a command speaking stdio, or a streamable-HTTP URL.

    ``name`` (optional) prefixes its tools (``name_tool``) and names it in messages;
    ``timeout_s`` bounds connecting, listing and each call of its tools.
    """

    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] | None = None
    url: str | None = None
    headers: Mapping[str, str] | None = field(default=None, repr=False)
    name: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S

    def __post_init__(self) -> None:
        if (self.command is None) == (self.url is None):
            raise ValueError("an MCP server needs either a command (stdio) or a url (HTTP)")
        if self.timeout_s <= 0:
            raise ValueError("an MCP server's timeout_s must be positive")

    @classmethod
    def stdio(
        cls,
        command: str,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        *,
        name: str = "",
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> MCPServer:
        """A server started as ``command args...``, spoken to over its stdin and stdout."""
        return cls(command=command, args=tuple(args), env=env, name=name, timeout_s=timeout_s)

    @classmethod
    def http(
        cls,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        name: str = "",
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> MCPServer:
        """A server at a streamable-HTTP ``url``; ``headers`` go with every request."""
        return cls(url=url, headers=headers, name=name, timeout_s=timeout_s)

    @property
    def address(self) -> str:
        """Its command line, or its URL."""
        if self.command is not None:
            return " ".join((self.command, *self.args))
        return str(self.url)

    @property
    def label(self) -> str:
        """The server's name, else its command line or URL."""
        return self.name or self.address

    @contextlib.asynccontextmanager
    async def _open(self) -> AsyncIterator[ClientSession]:
        """An initialized session (to be entered and left by one task)."""
        from mcp import ClientSession, StdioServerParameters, stdio_client
        from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

        if self.command is not None:
            params = StdioServerParameters(
                command=self.command, args=list(self.args), env=dict(self.env or {}) or None
            )
            async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
                with anyio.fail_after(self.timeout_s):
                    await session.initialize()
                yield session
        else:
            client = create_mcp_http_client(headers=dict(self.headers or {}))
            async with (
                client,
                streamable_http_client(str(self.url), http_client=client) as (read, write),
                ClientSession(read, write) as session,
            ):
                with anyio.fail_after(self.timeout_s):
                    await session.initialize()
                yield session


def tool_options(annotations: mcp_types.ToolAnnotations | None) -> dict[str, Any]:
    """Risk, idempotency and egress from MCP tool annotations (absent hints: a write tool).

    The MCP spec calls annotations hints: claims of a server, not guarantees. A policy file's
    ``tools:`` may replace them (``agentlab.tools.rules``).
    """
    if annotations is None:
        return {"risk": Risk.WRITE, "idempotent": False, "egress": False}
    if annotations.read_only_hint:
        risk, idempotent = Risk.READ, True
    elif annotations.destructive_hint:
        risk, idempotent = Risk.DESTRUCTIVE, bool(annotations.idempotent_hint)
    else:
        risk, idempotent = Risk.WRITE, bool(annotations.idempotent_hint)
    return {"risk": risk, "idempotent": idempotent, "egress": bool(annotations.open_world_hint)}


class _Connection:
    """One open session, owned by a background task (anyio cancel scopes must be entered and left
    by the same task); calls use the session from any task of the same event loop."""

    def __init__(self, server: MCPServer) -> None:
        self.loop = asyncio.get_running_loop()
        self.session: ClientSession | None = None
        self.error: BaseException | None = None
        self._server = server
        self._ready = asyncio.Event()
        self._closing = asyncio.Event()
        self._task = asyncio.create_task(self._own(), name=f"mcp:{server.label}")

    @property
    def alive(self) -> bool:
        return not self._task.done() and not self._closing.is_set()

    async def _own(self) -> None:
        try:
            async with self._server._open() as session:
                self.session = session
                self._ready.set()
                await self._closing.wait()
        except Exception as exc:  # a server that cannot start (or crashed) is the caller's to see
            self.error = exc
        finally:
            self.session = None
            self._ready.set()

    async def ready(self) -> ClientSession:
        await self._ready.wait()
        if self.session is None:
            raise self.error or RuntimeError("the MCP session closed")
        return self.session

    async def aclose(self) -> None:
        if asyncio.get_running_loop() is self.loop:
            self._closing.set()
            await asyncio.wait([self._task])  # the owner task ends the session and the process
        elif not self.loop.is_closed():  # another loop still runs it (a notebook's): ask it
            self.loop.call_soon_threadsafe(self._closing.set)


def from_hints(tool: Tool) -> bool:
    """Whether ``tool``'s risk, idempotency and egress are an MCP server's hints (its
    annotations), not the word of the code that declared it."""
    return tool.source.startswith(SOURCE_PREFIX)


def _dead(exc: BaseException) -> bool:
    """Whether ``exc`` means the connection is gone (not that the server answered an error)."""
    import mcp.types as mcp_types
    from mcp import MCPError

    if isinstance(exc, MCPError):  # closed, or no answer in time: the server may have acted
        return exc.code in (mcp_types.CONNECTION_CLOSED, mcp_types.REQUEST_TIMEOUT)
    if isinstance(exc, BaseExceptionGroup):
        return any(_dead(e) for e in exc.exceptions)
    return isinstance(
        exc,
        anyio.ClosedResourceError
        | anyio.BrokenResourceError
        | anyio.EndOfStream
        | OSError
        | EOFError
        | TimeoutError,
    )


def _output(result: mcp_types.CallToolResult) -> Any:
    """Structured content if the server gave it; else the text, or the content blocks as data."""
    import mcp.types as mcp_types

    if result.structured_content is not None:
        return result.structured_content
    blocks = result.content
    if all(isinstance(b, mcp_types.TextContent) for b in blocks):
        return "\n".join(b.text for b in blocks if isinstance(b, mcp_types.TextContent))
    return [b.model_dump(mode="json", by_alias=True, exclude_none=True) for b in blocks]


def _text(result: mcp_types.CallToolResult) -> str:
    import mcp.types as mcp_types

    texts = [b.text for b in result.content if isinstance(b, mcp_types.TextContent)]
    return "\n".join(texts) or "the MCP tool reported an error without a message"


class MCPToolset:
    """The tools of one MCP server, as a ``Toolset``; connects lazily, reconnects when needed.

    Close it with ``aclose()`` on the event loop that used it.
    """

    def __init__(self, server: MCPServer) -> None:
        self.server = server
        self._connection: _Connection | None = None
        self._tools: list[Tool] | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"MCPToolset({self.server.label!r})"

    @property
    def source(self) -> str:
        """``mcp:`` and the server: its name and command line (or URL), or those alone."""
        server = self.server
        return SOURCE_PREFIX + (
            f"{server.name} ({server.address})" if server.name else server.address
        )

    def _prefixed(self, name: str) -> str:
        return f"{self.server.name}_{name}" if self.server.name else name

    async def _session(self) -> ClientSession:
        """The open session, (re)connecting when there is none, it died, or the loop changed."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        async with self._lock:
            conn = self._connection
            if conn is None or conn.loop is not loop or not conn.alive:
                if conn is not None:
                    await conn.aclose()
                conn = self._connection = _Connection(self.server)
        try:
            return await conn.ready()
        except Exception:
            if self._connection is conn:
                self._connection = None
            raise

    async def _reset(self, session: ClientSession | None = None) -> None:
        """Close the connection (only if it still holds ``session``, when given)."""
        conn = self._connection
        if conn is None or (session is not None and conn.session is not session):
            return  # another call already reconnected
        self._connection = None
        await conn.aclose()

    async def list_tools(self) -> Sequence[Tool]:
        if self._tools is None:
            try:
                async with asyncio.timeout(self.server.timeout_s):
                    listed = await self._list()
            except Exception as exc:
                await self._reset()
                raise MCPServerError(
                    f"MCP server {self.server.label} did not list its tools ({_describe(exc)}); "
                    "check that it starts and answers, or raise its timeout_s"
                ) from exc
            self._tools = [self._tool(t) for t in listed]
        return self._tools

    async def _list(self) -> list[mcp_types.Tool]:
        import mcp.types as mcp_types

        session = await self._session()
        listed: list[mcp_types.Tool] = []
        cursor: str | None = None
        while True:
            params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await session.list_tools(params=params)
            listed.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                return listed

    def _tool(self, spec: mcp_types.Tool) -> Tool:
        inner = spec.name

        async def call(arguments: dict[str, Any]) -> Any:
            return await self._call(inner, arguments)

        return Tool.from_schema(
            self._prefixed(inner),
            spec.description or spec.title or inner,
            spec.input_schema,
            call,
            timeout_s=self.server.timeout_s,
            source=self.source,
            **tool_options(spec.annotations),
        )

    async def call_tool(self, name: str, arguments: dict[str, Any], ctx: ToolContext) -> Any:
        for t in await self.list_tools():
            if t.name == name:
                return await t.handler(ctx, arguments)
        raise KeyError(name)

    async def _call(self, name: str, arguments: dict[str, Any]) -> Any:
        import mcp.types as mcp_types
        from mcp import MCPError

        try:
            session = await self._session()
        except Exception as exc:  # could not (re)start or reach it: the next call tries again
            raise self._not_answering(exc) from exc
        try:
            result = await session.call_tool(
                name, arguments, read_timeout_seconds=self.server.timeout_s
            )
        except Exception as exc:
            if _dead(exc):
                # The request was sent: the server may have acted before it went away.
                await self._reset(session)
                raise EffectUnknown(
                    f"MCP server {self.server.label} is not answering ({_describe(exc)}) after "
                    f"the call was sent, so whether {name} took effect is unknown; it will be "
                    "restarted on the next call"
                ) from exc
            if isinstance(exc, MCPError):  # the server answered with an error: the model's to see
                raise ToolError(f"{name}: {exc.message}") from None
            raise
        if not isinstance(result, mcp_types.CallToolResult):
            raise ToolError(f"{name}: unexpected MCP result {type(result).__name__}")
        if result.is_error:
            raise ToolError(_text(result))
        return _output(result)

    def _not_answering(self, exc: BaseException) -> ToolError:
        return ToolError(
            f"MCP server {self.server.label} is not answering: {_describe(exc)}; "
            "it will be restarted on the next call"
        )

    async def aclose(self) -> None:
        """Close the session and stop the server process (a stdio server)."""
        await self._reset()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _describe(exc.exceptions[0])
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
