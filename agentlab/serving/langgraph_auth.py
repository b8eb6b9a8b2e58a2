"""Custom auth for graphs served by a LangGraph server (``auth`` in ``langgraph.json``).

Every request must carry a bearer token of the server's data directory (``agentlab tokens
create --principal P``); the token's principal is the request's user, and a served run acts for
it (``RunContext``'s principal comes from the authenticated user, never from the run's input).
Threads, their runs and crons belong to the principal that created them: another principal
neither sees nor resumes them, except the configured ``[access] operators``. Assistants (the
graphs of ``langgraph.json``) may be read by every authenticated caller and changed only by
operators; the server's store is scoped to the caller's namespace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from langgraph_sdk import Auth

from agentlab.config import Settings, load_settings
from agentlab.store.tokens import TokenStore

READ_ONLY = ("read", "search")


def server_auth(settings: Callable[[], Settings] = load_settings) -> Auth:
    """The ``Auth`` a LangGraph server loads; ``settings`` are read per request (a revoked
    token, a new operator, apply at once), off the event loop (files and SQLite block)."""
    auth = Auth()

    def verify(authorization: str | None) -> tuple[str | None, bool]:
        """The principal of a bearer token (``None``: not a valid one), and whether it is an
        operator."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer":
            return None, False
        loaded = settings()
        principal = TokenStore(loaded.data_dir).principal_of(token)
        return principal, principal in loaded.access.operators

    @auth.authenticate
    async def authenticate(authorization: str | None) -> Auth.types.MinimalUserDict:
        principal, operator = await asyncio.to_thread(verify, authorization)
        if principal is None:
            raise Auth.exceptions.HTTPException(
                status_code=401,
                detail="send 'Authorization: Bearer <token>' with a token from 'agentlab tokens "
                "create --principal NAME' (this one is missing, unknown or revoked)",
                headers={"WWW-Authenticate": 'Bearer realm="agentlab"'},
            )
        permissions = ["operator"] if operator else []
        return {"identity": principal, "is_authenticated": True, "permissions": permissions}

    @auth.on
    async def owned(ctx: Auth.types.AuthContext, value: Any) -> Auth.types.FilterType | bool:
        identity = ctx.user.identity
        operator = "operator" in ctx.permissions
        if ctx.resource == "assistants":  # the graphs themselves
            if ctx.action in READ_ONLY or operator:
                return True
            raise Auth.exceptions.HTTPException(
                status_code=403, detail="only an operator ([access] operators) changes assistants"
            )
        if ctx.resource == "store":
            namespace = tuple(value.get("namespace") or ())
            if not operator and (not namespace or namespace[0] != identity):
                value["namespace"] = (identity, *namespace)
            return True
        if not operator and ctx.resource == "threads" and _writes_state(ctx.action, value):
            raise Auth.exceptions.HTTPException(
                status_code=403,
                detail="a thread's state is written by its runs only: send a message, or resume "
                "a paused run with command={'resume': decision}",
            )
        if isinstance(value, dict) and ctx.action in ("create", "create_run"):
            metadata = value.get("metadata")
            if isinstance(metadata, dict):  # in place: the server keeps this very dict
                metadata["owner"] = identity
            else:
                value["metadata"] = {"owner": identity}
        return True if operator else {"owner": identity}

    return auth


def _writes_state(action: str, value: Any) -> bool:
    """Whether a thread request writes the run's state directly: a state update (an ``update``
    naming neither metadata nor an action), or a run whose command updates channels or jumps
    to a node. Who a run acts for, its approvals and its plan are the graph's to write."""
    if not isinstance(value, dict):
        return False
    if action == "update":
        return value.get("metadata") is None and value.get("action") is None
    if action == "create_run":
        command = (value.get("kwargs") or {}).get("command") or {}
        return bool(command.get("update") or command.get("goto"))
    return False
