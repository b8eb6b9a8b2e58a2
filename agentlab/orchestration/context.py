"""The run context: who a run acts for and under which limits, given to every node and tool.

It is LangGraph's ``context_schema``: a driver passes it with each invocation (``context=``), and
nodes read it from their ``Runtime``. A LangGraph server passes it as JSON, so it holds data only;
connections an agent's tools need come from the agent's ``deps`` factory.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from typing import Any

from langgraph.config import get_config
from langgraph.runtime import Runtime
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from agentlab.memory.sessions import Conversation
from agentlab.observability.ledger import RunLedger
from agentlab.orchestration.limits import Limits


def served_caller() -> str | None:
    """The authenticated caller of a LangGraph server's run (its custom auth's user identity),
    or ``None`` outside one (a ``Runner``'s run, a graph invoked in code)."""
    try:
        configurable = get_config().get("configurable") or {}
    except RuntimeError:  # not inside a run
        return None
    caller = configurable.get("langgraph_auth_user_id")
    return caller if isinstance(caller, str) and caller else None


def default_principal() -> str:
    """The OS user, as the principal of runs started without ``--as``."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class RunContext(BaseModel):
    """What a run is: its id, principal, session, agent reference, options and limits.

    ``run_id`` defaults to the LangGraph thread id; ``principal`` is the user or service the run
    acts for, ``actor`` who started it for them (``started_by``: the principal itself unless
    set); ``options`` are the agent's run options (JSON), passed to its ``deps`` factory;
    ``limits`` default to the graph's (the agent's, else the configured ``max_iterations``);
    ``lease`` is the token of the process's claim on the run (set by the ``Runner``): a tool call
    starts only while that claim holds, and checkpoints, journal and status are written only
    while it does; ``fence`` is the claim's fencing token (``ToolContext.fencing_token``).
    ``ledger`` is the run's account in the cost ledger (set
    by the ``Runner``): model calls are reserved there against the run's session and daily
    ceilings too, and each step reads the run's kill flag from it; without one (a LangGraph
    server's runs) only the per-run ceilings are held, from the run's state. ``conversation``
    is the run's session in the runs database (set by the ``Runner`` for a run with a
    session): without one, a conversation is kept on the run's thread (a LangGraph server's).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    run_id: str | None = None
    principal: str = Field(default_factory=default_principal)
    actor: str | None = None
    session: str | None = None
    agent: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    limits: Limits | None = None
    lease: str | None = None
    fence: int = 0
    # Not data: handles the Runner sets, absent from the context's JSON (and its schema).
    ledger: SkipJsonSchema[RunLedger | None] = Field(default=None, exclude=True, repr=False)
    conversation: SkipJsonSchema[Conversation | None] = Field(
        default=None, exclude=True, repr=False
    )

    @property
    def started_by(self) -> str:
        """Who started the run: its ``actor``, else its principal."""
        return self.actor or self.principal


def run_context(runtime: Runtime[Any], state: Mapping[str, Any] | None = None) -> RunContext:
    """The run's context, with its id filled in from the thread when the driver gave none.

    A LangGraph server's run acts for the authenticated caller that started it (``begin``
    records it in the state, which only the graph writes), whatever its context or input say;
    an operator resuming it does not change who it acts for. Without a context (a graph
    invoked in code), the principal and session come from the run's state, if it names them.
    """
    caller = served_caller()
    if caller is not None:
        principal = (state or {}).get("principal") or caller
        if isinstance(runtime.context, RunContext):
            ctx = runtime.context.model_copy(update={"principal": principal, "actor": None})
        else:
            ctx = RunContext(principal=principal, session=(state or {}).get("session"))
    elif isinstance(runtime.context, RunContext):
        ctx = runtime.context
    elif state is not None and (state.get("principal") or state.get("session")):
        ctx = RunContext(
            principal=state.get("principal") or default_principal(), session=state.get("session")
        )
    else:
        ctx = RunContext()
    if ctx.run_id is None:
        info = getattr(runtime, "execution_info", None)
        thread = getattr(info, "thread_id", None)
        ctx = ctx.model_copy(update={"run_id": thread or "local"})
    return ctx
