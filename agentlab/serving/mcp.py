"""An agent served over MCP: its tools under its policy, and the agent itself as ``run_task``.

``AgentServer`` puts the agent's tools and two of its own behind one ``ToolExecutor``:
``run_task`` starts a durable run of the agent and answers its outcome, or the approval it waits
for with the run id and how a human gives it; ``get_run`` reads how such a run stands. So every
served call is validated, decided by the agent's policy, journaled (``served.sqlite``) and timed
out as a call in a run is. A call the policy asks a human about is refused: nobody can approve
it in the middle of an MCP call, while a run started by ``run_task`` pauses at the same call.

The SDK's low-level ``Server`` serves the tools, their JSON schemas unchanged, over stdio or
stateless streamable HTTP on 127.0.0.1 (a restarted server answers a client's next request).
"""

from __future__ import annotations

import itertools
import logging
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

import mcp.types as mcp_types
from mcp.server import Server, ServerRequestContext
from pydantic import Field

from agentlab.config import Settings
from agentlab.errors import AgentlabError
from agentlab.events import RunEvent
from agentlab.models.router import ModelSpec
from agentlab.orchestration import (
    Runner,
    RunView,
    load_agent,
    normalize_reference,
    resolve_models,
    resolve_output_bounds,
    resolve_policy,
    served_journal,
)
from agentlab.orchestration.context import default_principal
from agentlab.orchestration.deps import Deps
from agentlab.orchestration.graph import resolve_long_term
from agentlab.orchestration.requests import Request
from agentlab.serving import replies
from agentlab.serving.auth import BearerAuth, caller_of
from agentlab.store.tokens import TokenStore
from agentlab.tools import (
    CallRefused,
    CallRequest,
    CallScope,
    FunctionToolset,
    NeedsApproval,
    Risk,
    Tool,
    ToolContext,
    ToolError,
    ToolExecutor,
    ToolRegistry,
    tool,
)
from agentlab.tools.journal import UnknownSideEffect
from agentlab.tools.unknown import unknown_effect_error

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
"""The only address the HTTP server listens on: no other machine can reach it."""
RUN_TOOLS = ("run_task", "get_run")
"""The tools the server adds to the agent's."""
RUN_TIMEOUT_S = 3600.0
"""The longest a ``run_task`` call waits for its run to end or pause."""

DecideHint = Callable[[str, Sequence[Request]], str]
"""How a human answers the requests a paused run waits on: ``(run_id, requests) -> text``."""


class ServeError(AgentlabError):
    """The server cannot start where it was asked to (its port is taken)."""


def tool_annotations(tool: Tool, *, egress: bool) -> mcp_types.ToolAnnotations:
    """MCP hints from a tool's risk, idempotency and egress: what ``tool_options`` reads back."""
    return mcp_types.ToolAnnotations(
        read_only_hint=tool.risk is Risk.READ,
        destructive_hint=tool.risk is Risk.DESTRUCTIVE,
        idempotent_hint=tool.idempotent,
        open_world_hint=egress,
    )


def listen(port: int) -> socket.socket:
    """A socket listening on 127.0.0.1 ``port`` (0: a free one, see ``getsockname()``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A restarted server takes its port back at once, while the old connections linger.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((LOOPBACK, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ServeError(
            f"cannot listen on {LOOPBACK}:{port} ({exc.strerror or exc}): is another server "
            "using it? Choose another port (0 picks a free one)"
        ) from None
    return sock


class AgentServer:
    """An agent's tools and the agent itself as an MCP server.

    ``async with AgentServer(reference, settings, decide_hint=...) as server:`` opens the runs
    database and lists the tools (a clash of names is an error here), then
    ``await server.serve_stdio()`` or ``await server.serve_http(listen(port))``. Calls act for
    ``principal`` (default: the OS user); runs use ``models`` (a script), else the agent's own.
    """

    def __init__(
        self,
        reference: str,
        settings: Settings,
        *,
        decide_hint: DecideHint,
        principal: str | None = None,
        models: ModelSpec | None = None,
    ) -> None:
        self.reference = normalize_reference(reference)
        self.agent = load_agent(self.reference)
        self.settings = settings
        self.principal = principal or default_principal()
        self.models = models
        self.tool_names: list[str] = []
        self._decide_hint = decide_hint
        self.executor = ToolExecutor(
            ToolRegistry([*self.agent.all_toolsets, self._run_tools()]),
            resolve_policy(self.agent, settings),
            served_journal(settings),
            bounds=resolve_output_bounds(settings),
        )
        self._deps = Deps(settings.data_dir)
        self._memory = resolve_long_term(self.agent, settings)  # for its knowledge base tool
        self._runner: Runner | None = None
        # The journal keys served calls by this server's id and a call count.
        self._id = f"mcp-{uuid.uuid4().hex[:10]}"
        self._calls = itertools.count(1)

    def models_problem(self) -> AgentlabError | None:
        """Why ``run_task`` cannot start runs (no model to answer them), or ``None``.

        A script that cannot be read raises: that is a mistake to fix before serving.
        """
        if self.models is not None:
            resolve_models(self.agent, self.settings, self.models)
            return None
        try:
            resolve_models(self.agent, self.settings)
        except AgentlabError as exc:
            return exc
        return None

    async def __aenter__(self) -> AgentServer:
        self._runner = await Runner(self.settings).open()
        try:
            self.tool_names = [t.name for t in await self.executor.tools.tools()]
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the runs database, the tools' deps and toolsets (an MCP server's process)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.close()
        await self._deps.aclose()
        if self._memory is not None:
            await self._memory.aclose()
        for toolset in self.agent.all_toolsets:
            closing = getattr(toolset, "aclose", None)
            if closing is not None:
                await closing()

    async def list_tools(self) -> list[mcp_types.Tool]:
        """The served tools: the agent's, schemas unchanged, then ``run_task`` and ``get_run``."""
        tools = await self.executor.tools.tools()
        own = [t for t in tools if t.name not in RUN_TOOLS]
        specs = []
        for t in tools:
            hints = tool_annotations(t, egress=self.executor.sends_data_out(t))
            if t.name == "run_task":  # a run may do what any of the agent's tools does
                hints.destructive_hint = any(o.risk is Risk.DESTRUCTIVE for o in own)
                hints.open_world_hint = any(self.executor.sends_data_out(o) for o in own)
            specs.append(
                mcp_types.Tool(
                    name=t.name,
                    description=t.description,
                    input_schema=t.input_schema,
                    annotations=hints,
                )
            )
        return specs

    async def call_tool(
        self, name: str, arguments: Mapping[str, Any] | None, principal: str | None = None
    ) -> mcp_types.CallToolResult:
        """One served call, for ``principal`` (an authenticated caller's; default: the server's),
        through the executor; a refusal or failure is an error result."""
        request = CallRequest(
            call_id=str(next(self._calls)), tool=name, arguments=dict(arguments or {})
        )
        who = principal or self.principal
        try:
            # Decided once, as in a run: validated, hashed, judged by the agent's policy.
            call = await self.executor.prepare(request, who)
            deps = None if name in RUN_TOOLS else await self._agent_deps()
            memory = None if name in RUN_TOOLS else self._memory
            scope = CallScope(run_id=self._id, principal=who, deps=deps, memory=memory)
            outcome = await self.executor.run(call, scope, _log_call)
        except CallRefused as exc:
            log.info("served call %s refused: %s", name, exc)
            return replies.error(str(exc))
        except NeedsApproval as exc:
            log.info("served call %s needs a human's approval: %s", name, exc)
            return replies.error(replies.nobody_to_approve(name, str(exc)))
        except UnknownSideEffect as exc:  # the caller asked; only it can find out what happened
            log.warning("served call %s: %s", name, exc)
            return replies.error(unknown_effect_error(exc))
        except AgentlabError as exc:  # e.g. the agent's deps could not be opened
            return replies.error(str(exc))
        except Exception as exc:  # a bug: the caller sees it, the server goes on
            log.exception("served call %s failed", name)
            return replies.error(f"{type(exc).__name__}: {exc}")
        if outcome["ok"]:
            return replies.result(outcome["output"])
        return replies.error(outcome["error"] or "the call failed")

    async def _agent_deps(self) -> Any:
        if self.agent.deps is None:
            return None
        return await self._deps.get(self.agent.deps, {})

    def _run_tools(self) -> FunctionToolset:
        """``run_task`` and ``get_run``: the agent itself, as tools."""

        @tool(risk=Risk.WRITE, timeout_s=RUN_TIMEOUT_S)
        async def run_task(
            ctx: ToolContext,
            task: Annotated[
                str, Field(min_length=1, description="What the agent should do, in plain words.")
            ],
        ) -> dict[str, Any]:
            """Give the agent a task."""
            return await self._start(task, ctx.principal)

        @tool
        async def get_run(
            ctx: ToolContext,
            run_id: Annotated[
                str, Field(min_length=1, description="The run_id that run_task answered.")
            ],
        ) -> dict[str, Any]:
            """How a run that run_task started stands: its status, outcome and step results, or
            the decision it waits for. Use it after a human decided on a paused run."""
            return await self._get(run_id, ctx.principal)

        described = run_task.renamed(
            "run_task",
            f"Give the {self.agent.name} agent a task, in plain words; it is {self.agent.purpose}. "
            "It plans the task, runs its tools and answers with its reply and the run's outcome. "
            "When a step needs a "
            "human's approval the run pauses, saved: the answer then gives the run_id and the "
            "command a human uses to approve or reject the step, and get_run tells how the run "
            "went on.",
        )
        return FunctionToolset([described, get_run])

    def _runs(self) -> Runner:
        if self._runner is None:
            raise RuntimeError("the AgentServer is not open: use 'async with AgentServer(...)'")
        return self._runner

    async def _start(self, task: str, principal: str) -> dict[str, Any]:
        runner = self._runs()
        try:
            run_id, events = await runner.start(
                self.reference, task, models=self.models, principal=principal
            )
            async for event in events:
                log.debug("run %s: %s", run_id, event)
            return self._report(await runner.get(run_id))
        except AgentlabError as exc:  # no model, a busy or damaged database: the caller's to see
            raise ToolError(str(exc)) from None

    async def _get(self, run_id: str, principal: str) -> dict[str, Any]:
        try:
            view = await self._runs().get(run_id)
        except AgentlabError as exc:
            raise ToolError(str(exc)) from None
        if (view.record.agent, view.record.principal) != (self.reference, principal):
            raise ToolError(
                f"run {run_id} is not a run of agent {self.agent.name} as {principal}: "
                "this server shows only those"
            )
        return self._report(view)

    def _report(self, view: RunView) -> dict[str, Any]:
        """A run as ``run_task`` and ``get_run`` answer it."""
        run_id = view.record.run_id
        outcome = str(view.state.get("outcome") or view.record.outcome or "")
        reply = str(view.state.get("reply") or "")
        report: dict[str, Any] = {
            "run_id": run_id,
            "status": view.status,
            "outcome": outcome,
            "reply": reply,
            "results": list(view.state.get("results", [])),
        }
        calls = view.requests  # several when concurrent steps wait together
        if not calls:
            report["message"] = reply or f"Run {run_id} is {view.status}" + (
                f": {outcome}" if outcome else "."
            )
            return report
        how = self._decide_hint(run_id, calls)
        keys = ("kind", "step_id", "description", "tool", "arguments", "reasons")
        report["waiting_for"] = [{k: r.data().get(k) for k in keys} for r in calls]
        report["decide"] = how
        asked = "; ".join(
            f"{_asked(r)} {r.describe()}, because: {', '.join(r.reasons)}" for r in calls
        )
        report["message"] = (
            f"Run {run_id} is saved and waits for a human's {asked}. Nothing more happens until "
            f"a human decides, with: {how}. Then get_run with this run_id tells how the run went "
            "on."
        )
        return report

    def sdk_server(self) -> Server[Any]:
        """The SDK's low-level server, answering ``tools/list`` and ``tools/call`` from here."""

        async def list_tools(
            ctx: ServerRequestContext[Any], params: mcp_types.PaginatedRequestParams | None
        ) -> mcp_types.ListToolsResult:
            return mcp_types.ListToolsResult(tools=await self.list_tools())

        async def call_tool(
            ctx: ServerRequestContext[Any], params: mcp_types.CallToolRequestParams
        ) -> mcp_types.CallToolResult:
            return await self.call_tool(params.name, params.arguments, caller_of(ctx.request))

        from importlib.metadata import version

        return Server(
            f"agentlab-{self.agent.name}",
            version=version("agentlab"),
            instructions=(
                f"The {self.agent.name} agent: {self.agent.purpose}. Give it a task with run_task. "
                "Its tools can also be called one by one, under its policy: a call the policy "
                "asks a human about is refused here (in a run it pauses for approval instead), "
                "and a denied call always is."
            ),
            on_list_tools=list_tools,
            on_call_tool=call_tool,
        )

    async def serve_stdio(self) -> None:
        """Serve over this process's stdin and stdout until the client closes them."""
        from mcp.server.stdio import stdio_server

        server = self.sdk_server()
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    async def serve_http(self, sock: socket.socket) -> None:
        """Serve streamable HTTP at ``/mcp`` on ``sock`` (see ``listen``) until interrupted.

        Every request must carry a bearer token of this data directory (``agentlab tokens
        create``); its calls and runs act for the token's principal. Stateless: no request
        depends on an earlier one, so a client goes on with a restarted server; runs live in the
        runs database, not in the server.
        """
        import uvicorn

        app = self.sdk_server().streamable_http_app(stateless_http=True, host=LOOPBACK)
        guarded = BearerAuth(app, TokenStore(self.settings.data_dir))
        config = uvicorn.Config(guarded, log_level="warning", timeout_graceful_shutdown=3)
        await uvicorn.Server(config).serve(sockets=[sock])


def _asked(request: Request) -> str:
    if request.unknown_effect:
        return "word on whether this call took effect:"
    return "approval of"


def _log_call(event: RunEvent) -> None:
    log.info("served %s", event)
