"""Bearer-token authentication for agentlab's own HTTP servers (``agentlab mcp serve --http``).

Every request must carry ``Authorization: Bearer <token>`` with a token of the data directory
(``agentlab tokens create --principal P``); anything else is answered ``401`` before it reaches
the server. The token's principal is who the request acts for: it is put in the request's scope,
never read from the request's body.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from agentlab.store.tokens import TokenStore

PRINCIPAL_KEY = "agentlab_principal"


class BearerAuth:
    """An ASGI middleware admitting only requests with a valid bearer token of ``tokens``."""

    def __init__(self, app: ASGIApp, tokens: TokenStore) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: not a caller's request
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        principal = self.tokens.principal_of(token) if scheme.lower() == "bearer" else None
        if principal is None:
            await _unauthorized(send, "missing" if not token else "invalid or revoked")
            return
        scope.setdefault("state", {})[PRINCIPAL_KEY] = principal
        await self.app(scope, receive, send)


def caller_of(request: Any) -> str | None:
    """The authenticated principal of an HTTP request (``None``: not one, e.g. over stdio)."""
    scope = getattr(request, "scope", None)
    if not isinstance(scope, dict):
        return None
    principal = scope.get("state", {}).get(PRINCIPAL_KEY)
    return principal if isinstance(principal, str) else None


async def _unauthorized(send: Send, what: str) -> None:
    body = json.dumps(
        {
            "error": "unauthorized",
            "message": f"{what} bearer token: send 'Authorization: Bearer <token>' with a token "
            "from 'agentlab tokens create --principal NAME'",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer realm="agentlab"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
