"""Whether a failed call may still have taken effect.

A call fails in one of two ways. Either its request never left (a refused connection, a name that
did not resolve, the tool's own error answer): nothing happened, and the model may try again. Or
the request may have reached the system it acts on and no answer came back (a connection reset or
closed mid-call, a read timeout, the tool's own timeout, an MCP server that died while answering):
then whether it took effect is unknown, exactly as after a crash, and only a person can say (for a
tool that is not idempotent). ``effect_unknown`` tells the two apart from the exception raised,
walking its causes; HTTP libraries' errors are recognised by class name, so none is imported.
``failure`` turns what a call raised into the error the model sees, or the reason its effect is
unknown.
"""

from __future__ import annotations

import http.client

from agentlab.tools.tool import EffectUnknown, Tool, ToolError, ToolOutcome

_HTTP_ERROR = http.client.HTTPException  # RemoteDisconnected, IncompleteRead, ...

# Raised before a request was sent: the call did not happen.
_NOT_SENT = frozenset(
    {
        "ConnectionRefusedError",
        "ConnectError",  # httpx
        "ConnectTimeout",  # httpx, requests
        "ConnectionTimeoutError",  # aiohttp
        "PoolTimeout",  # httpx: no connection to send on
        "NewConnectionError",  # urllib3
        "NameResolutionError",  # urllib3
        "InvalidURL",
        "UnsupportedProtocol",
        "gaierror",
    }
)
# Raised after a request may have been sent, before its answer was read.
_MAYBE_SENT = frozenset(
    {
        "ReadError",  # httpx
        "ReadTimeout",  # httpx, requests
        "WriteError",  # httpx: part of the request may have gone
        "WriteTimeout",
        "RemoteProtocolError",  # httpx: the server closed the connection mid-answer
        "ChunkedEncodingError",  # requests
        "ProtocolError",  # urllib3
        "IncompleteRead",
        "ServerDisconnectedError",  # aiohttp
        "ClientPayloadError",
        "ServerTimeoutError",
    }
)


def effect_unknown(exc: BaseException) -> bool:
    """Whether ``exc``, raised by a call, leaves its effect unknown (see the module's text)."""
    if isinstance(exc, ToolError) and not isinstance(exc, EffectUnknown):
        return False  # the tool's own word: it failed, and says so
    seen: set[int] = set()
    chain: list[BaseException] = [exc]
    unknown = False
    while chain:
        current = chain.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        names = {cls.__name__ for cls in type(current).__mro__}
        if names & _NOT_SENT:
            return False  # anywhere in the chain: the request never left
        cut_off = isinstance(
            current, EffectUnknown | ConnectionError | TimeoutError | EOFError | _HTTP_ERROR
        )
        unknown = unknown or cut_off or bool(names & _MAYBE_SENT)
        if isinstance(current, BaseExceptionGroup):
            chain.extend(current.exceptions)
        if current.__cause__ is not None:
            chain.append(current.__cause__)
        elif current.__context__ is not None and not current.__suppress_context__:
            chain.append(current.__context__)
    return unknown


def failure(tool: Tool, exc: Exception, *, expired: bool) -> ToolOutcome | str:
    """What ``exc``, raised by a call of ``tool``, makes of the call: an error outcome the model
    sees, or, when the call of a tool that is not idempotent may have taken effect, the reason
    why its effect is unknown (for the run to ask a person). ``expired``: the executor's own
    ``timeout_s`` ran out (``exc`` is then a ``TimeoutError``)."""
    if isinstance(exc, TimeoutError):
        if tool.idempotent:
            timed_out = f"{tool.name} timed out after {tool.timeout_s:g} s"
            return _error(timed_out if expired else described(exc))
        if expired:  # a sync tool's thread cannot be stopped: the call may still complete
            return (
                f"{tool.name} did not answer within its timeout_s = {tool.timeout_s:g} s "
                "and may still be running"
            )
        if not effect_unknown(exc):  # e.g. a connect timeout: the request never left
            return _error(described(exc))
        return f"{tool.name} timed out mid-call ({described(exc)})"
    if effect_unknown(exc) and not tool.idempotent:
        return f"{tool.name} failed mid-call ({described(exc)})"
    return _error(described(exc))


def unknown_effect_error(unknown: BaseException) -> str:
    """What a caller with nobody to ask is told about a call whose effect is unknown."""
    return f"{unknown}: check whether it took effect before calling it again"


def described(exc: BaseException) -> str:
    """A tool's failure as the model is shown it: a ``ToolError``'s message, else the type too."""
    if isinstance(exc, ToolError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _error(message: str) -> ToolOutcome:
    return ToolOutcome(ok=False, output=None, error=message)
