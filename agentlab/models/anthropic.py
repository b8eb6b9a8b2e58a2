"""Claude through the ``anthropic`` SDK: the production ``Model`` provider.

The adapter speaks the Messages API, one attempt per request, and sorts its failures: a refusal
(400, 401, 403, 404, 413, 422) is a ``ModelUnavailableError`` saying what to fix; anything another
attempt may get past (408, 409, 429, 5xx, 529, a connection reset, a timeout, a malformed or cut-off
response: ``answers.read_answer`` checks every answer) is a ``TransientModelError``, which
``RetryingModel`` retries under the ``RetryPolicy`` (``agentlab.models.retry``) and, once the
attempts are used up, raises as a ``ModelOverloadedError``, on which ``FallbackModel`` asks the
role's next model. ``claude_model`` builds that stack. agentlab makes every retry itself, with the
SDK's own retries off, so a call makes at most ``max_attempts`` requests. The adapter also marks
the stable prefix of a request (tools, then system) cacheable, with one ``cache_control``
breakpoint at its end.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import anthropic
from anthropic.types import Message as ApiMessage

from agentlab.config import Settings
from agentlab.errors import ModelUnavailableError
from agentlab.models.answers import PROVIDER, read_answer
from agentlab.models.base import ModelRequest, ModelResponse
from agentlab.models.pricing import Pricing
from agentlab.models.retry import (
    RetryingModel,
    RetryPolicy,
    TransientModelError,
    parse_retry_after,
)

__all__ = ["PROVIDER", "ClaudeModel", "claude_client", "claude_model"]

# Worth another attempt, as the SDK judges too: request timeout, lock timeout, rate limit, and 5xx
# (529 is "overloaded").
_TRANSIENT_STATUSES = frozenset({408, 409, 429})
# An error event inside a stream arrives after a 200 status, so only its type says what it was.
_TRANSIENT_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error"})
_EPHEMERAL = {"type": "ephemeral"}
_RETRY_COUNT_HEADER = "x-stainless-retry-count"  # tells the API which retry a request is
_QUOTED = 300  # characters of an error body quoted in a message


def claude_client(settings: Settings) -> anthropic.AsyncAnthropic:
    """An async client configured from ``settings`` (key, URL, retries, timeout).

    ``ClaudeModel`` makes the client's ``max_retries`` itself (the SDK's own retries stay off), so
    a call makes at most ``anthropic_max_retries + 1`` requests of ``anthropic_timeout_s`` each.
    Without a key or URL in ``settings`` the SDK resolves them itself (environment, profiles).
    """
    key = settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else None
    return anthropic.AsyncAnthropic(
        api_key=key or None,
        base_url=settings.anthropic_base_url or None,
        max_retries=settings.anthropic_max_retries,
        timeout=settings.anthropic_timeout_s,
    )


def claude_model(
    model: str,
    client: anthropic.AsyncAnthropic,
    *,
    stream: bool = False,
    prompt_caching: bool = True,
    retry: RetryPolicy | None = None,
) -> RetryingModel:
    """Claude ``model`` as a role uses it: one ``ClaudeModel`` retried under ``retry`` (by default
    the client's ``max_retries`` + 1 attempts, waiting as the SDK would between them)."""
    inner = ClaudeModel(model, client, stream=stream, prompt_caching=prompt_caching)
    policy = retry or RetryPolicy(max_attempts=client.max_retries + 1)
    return RetryingModel(inner, policy, what=f"{model} at {client.base_url}")


class ClaudeModel:
    """A ``Model`` answering with Claude ``model`` through an ``AsyncAnthropic`` client: one
    attempt per request (``claude_model`` wraps it in retries).

    An attempt is abandoned when it takes longer than the client's timeout
    (``anthropic_timeout_s``), streamed or not. The client's own retries are turned off, so nothing
    multiplies the retry policy's bound. ``prompt_caching`` marks the tools and system prompt
    cacheable (see ``_mark_cacheable``), so repeated calls pay less for them.
    """

    def __init__(
        self,
        model: str,
        client: anthropic.AsyncAnthropic,
        *,
        stream: bool = False,
        prompt_caching: bool = True,
    ) -> None:
        self._model = model
        self._client = client.with_options(max_retries=0)
        self._timeout_s = _seconds(client.timeout)
        self._stream = stream
        self._prompt_caching = prompt_caching

    @property
    def name(self) -> str:
        return self._model

    def pricing(self) -> Pricing:
        return Pricing.listed(self._model)

    async def request(self, request: ModelRequest) -> ModelResponse:
        """One attempt: refusals raise ``ModelUnavailableError``, failures another attempt may get
        past raise ``TransientModelError``."""
        started = time.perf_counter()
        message = await self._attempt(self._params(request), request.attempt, request.on_text)
        return read_answer(message, time.perf_counter() - started)

    async def _attempt(
        self, params: dict[str, Any], number: int, on_text: Callable[[str], None] | None = None
    ) -> ApiMessage:
        """One request, abandoned after the timeout; failures sorted into refusals (raised as
        ``ModelUnavailableError``) and ``TransientModelError``s worth another attempt."""
        headers = {_RETRY_COUNT_HEADER: str(number - 1)}
        try:
            # The SDK times out each read; this bounds the whole attempt, however it trickles.
            async with asyncio.timeout(self._timeout_s):
                return await self._send({**params, "extra_headers": headers}, on_text)
        except (anthropic.APITimeoutError, TimeoutError) as exc:
            raise TransientModelError(
                f"no answer within anthropic_timeout_s = {self._timeout_s:g} s: raise "
                "anthropic_timeout_s (e.g. AGENTLAB_ANTHROPIC_TIMEOUT_S) if the model needs "
                "longer, or check that anthropic_base_url answers"
            ) from exc
        except anthropic.APIStatusError as exc:
            raise _status_error(self._model, str(self._client.base_url), exc) from exc
        except anthropic.APIConnectionError as exc:
            raise TransientModelError(
                f"connection failed ({_root_cause(exc)}): check anthropic_base_url and the network"
            ) from exc
        except (json.JSONDecodeError, anthropic.APIResponseValidationError) as exc:
            raise TransientModelError(
                f"the response is not a valid Messages API answer ({_root_cause(exc)}): check "
                "that anthropic_base_url is an Anthropic-compatible endpoint"
            ) from exc
        except Exception as exc:
            if not _is_transport_error(exc):
                raise
            raise TransientModelError(
                f"the response broke off ({_root_cause(exc)}): check the network or proxy"
            ) from exc

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self._model,
            "max_tokens": request.max_tokens,
            "messages": list(request.messages),
        }
        tools: list[dict[str, Any]] = [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema}
            for t in request.tools
        ]
        system: list[dict[str, Any]] = (
            [{"type": "text", "text": request.system}] if request.system else []
        )
        if self._prompt_caching:
            _mark_cacheable(tools, system)
        if tools:
            params["tools"] = tools
        if system:
            params["system"] = system if self._prompt_caching else request.system
        if request.tool_choice is not None:
            # Not part of the cached prefix: a forced tool that changes per call (the executor's)
            # leaves the tools and system cache valid.
            params["tool_choice"] = {"type": "tool", "name": request.tool_choice}
        return params

    async def _send(
        self, params: dict[str, Any], on_text: Callable[[str], None] | None = None
    ) -> ApiMessage:
        """Send ``params``: streamed when configured, or when someone waits for the text as it
        arrives (``on_text``, given each piece)."""
        if not self._stream and on_text is None:
            return await self._client.messages.create(**params)
        async with self._client.messages.stream(**params) as stream:
            kind = stream.response.headers.get("content-type", "")
            if not kind.startswith("text/event-stream"):
                # The SDK would find no events in it and fail an assertion.
                raise TransientModelError(
                    f"a streamed request was answered with a plain body ({kind or 'untyped'}), "
                    "not an event stream: set anthropic_stream = false "
                    "(AGENTLAB_ANTHROPIC_STREAM) if the endpoint at anthropic_base_url does not "
                    "stream"
                )
            try:
                if on_text is not None:
                    async for piece in stream.text_stream:
                        on_text(piece)
                return await stream.get_final_message()
            # What the SDK raises for a stream it cannot assemble (events out of order, tool
            # input that is not JSON, no message at all): the answer, not agentlab, is wrong.
            except (AssertionError, RuntimeError, TypeError, ValueError) as exc:
                raise TransientModelError(
                    f"the event stream is not a valid Messages API answer ({_root_cause(exc)}): "
                    "check that anthropic_base_url is an Anthropic-compatible endpoint"
                ) from exc


def _mark_cacheable(tools: list[dict[str, Any]], system: list[dict[str, Any]]) -> None:
    """Put one ``cache_control`` breakpoint at the end of the stable prefix: the last system
    block, else the last tool.

    The API renders tools, then system, then messages, and caches the prefix up to a breakpoint;
    agentlab's roles keep their tools and system the same on every call of a run and put what
    varies (task, results) in the messages, so this one breakpoint covers all that repeats. A
    second one on the tools would pay only when the system changes under the same tools, which no
    role does. A prefix shorter than the model's minimum (1024 tokens on Sonnet, 4096 on Haiku
    4.5) is not cached: the breakpoint then costs nothing.
    """
    last = system or tools
    if last:
        last[-1]["cache_control"] = _EPHEMERAL


def _status_error(model: str, where: str, exc: anthropic.APIStatusError) -> Exception:
    """A transient error for statuses worth another attempt, else the refusal, said plainly."""
    status = exc.status_code
    transient = (
        status in _TRANSIENT_STATUSES
        or status >= 500
        or (status < 400 and exc.type in _TRANSIENT_TYPES)
    )
    if not transient:
        return ModelUnavailableError(_refusal(model, where, exc))
    why = _describe(exc)
    if exc.response.headers.get("x-should-retry") == "false":
        return ModelUnavailableError(f"{model} at {where} failed, not to be retried ({why})")
    return TransientModelError(why, retry_after_s=parse_retry_after(exc.response.headers))


def _seconds(timeout: object) -> float | None:
    """A client's timeout in seconds: a number, or an ``httpx`` timeout's read timeout."""
    if isinstance(timeout, int | float):
        return float(timeout)
    read = getattr(timeout, "read", None)
    return float(read) if isinstance(read, int | float) else None


def _is_transport_error(exc: BaseException) -> bool:
    """Whether ``exc`` is the HTTP library's transport error (``httpx``, or ``httpx2`` in newer
    SDKs), which a stream raises as-is when the connection breaks off mid-way."""
    return any(cls.__name__ == "TransportError" for cls in type(exc).__mro__)


def _root_cause(exc: BaseException) -> str:
    """The innermost cause of ``exc`` on one line, e.g. ``ConnectionResetError: [Errno 104]``."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _describe(exc: anthropic.APIError) -> str:
    """The error on one line: status, API error type and the API's own message when there is one."""
    if isinstance(exc, anthropic.APIStatusError):
        detail = f"HTTP {exc.status_code} {exc.type or 'error'}: {exc.api_message or exc.message}"
    else:
        detail = f"{type(exc).__name__}: {exc.message}"
    return " ".join(detail.split())


def _refusal(model: str, where: str, exc: anthropic.APIStatusError) -> str:
    """What went wrong when the endpoint refused a request, and what to change.

    A gateway or proxy answers errors of its own (a 404 for a path it does not serve, a 422 for
    a body it cannot map): only a body in the API's own error shape is taken at its word, and
    any other is quoted.
    """
    why = _describe(exc)
    if isinstance(exc, anthropic.AuthenticationError):
        return f"Anthropic rejected the API key ({why}): check ANTHROPIC_API_KEY"
    if isinstance(exc, anthropic.PermissionDeniedError):
        return (
            f"the API key may not use {model} ({why}): check the key's workspace and model access"
        )
    if isinstance(exc, anthropic.NotFoundError):
        named = model in (exc.api_message or "")
        if _is_api_error(exc) and exc.type == "not_found_error" and named:
            return (
                f"model {model!r} was not found ({why}): check the model ids in the config's "
                "[models]"
            )
        return (
            f"{where} answered HTTP 404 to {exc.request.method} {exc.request.url.path} "
            f"({_body(exc)}): check anthropic_base_url: it should be the root of an "
            "Anthropic-compatible endpoint, to which the client adds /v1/messages"
        )
    if isinstance(exc, anthropic.ContentTooLargeError):
        return f"the request to {model} is too large ({why}): shorten the task or the tool results"
    if _is_api_error(exc):
        return (
            f"{where} refused the request to {model} ({why}): check the model id and "
            "max_tokens; if they are right, this is an agentlab bug worth reporting"
        )
    return (
        f"{where} refused the request to {model} with HTTP {exc.status_code} ({_body(exc)}): "
        f"check that anthropic_base_url is an Anthropic-compatible endpoint serving {model}, "
        "and the model id and max_tokens"
    )


def _is_api_error(exc: anthropic.APIStatusError) -> bool:
    """Whether the error body has the Messages API's own shape (``{"type": "error", "error":
    {"type": ..., "message": ...}}``), as opposed to a gateway's or proxy's."""
    body = exc.body
    if not isinstance(body, dict) or body.get("type") != "error":
        return False
    error = body.get("error")
    return (
        isinstance(error, dict)
        and isinstance(error.get("type"), str)
        and isinstance(error.get("message"), str)
    )


def _body(exc: anthropic.APIStatusError) -> str:
    """The response's body on one line, quoted and cut to ``_QUOTED`` characters."""
    try:
        text = exc.response.text
    except Exception:  # a streamed response's body that was never read
        text = ""
    if not text and exc.body is not None:
        text = json.dumps(exc.body) if isinstance(exc.body, dict | list) else str(exc.body)
    text = " ".join(text.split())
    if not text:
        return "an empty body"
    if len(text) > _QUOTED:
        text = text[: _QUOTED - 3] + "..."
    return f"body: '{text}'"
