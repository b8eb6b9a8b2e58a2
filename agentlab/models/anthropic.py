"""Claude through the ``anthropic`` SDK: the production ``Model`` provider.

Retries with backoff are the SDK's own (``max_retries`` on the client). This module adds what the
SDK does not do: marking the system prompt and tools cacheable, falling back to other models when
one stays overloaded, and turning API failures into ``ModelUnavailableError`` messages a user can
act on.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import anthropic
from anthropic.types import Message as ApiMessage

from agentlab.config import Settings
from agentlab.errors import ModelUnavailableError
from agentlab.models.base import ModelRequest, ModelResponse, ToolCall, Usage

_UNAVAILABLE = (
    anthropic.OverloadedError,
    anthropic.ServiceUnavailableError,
    anthropic.InternalServerError,
    anthropic.RateLimitError,
    anthropic.APIConnectionError,
)
# An error event inside a stream arrives after a 200 status, so only its type says what it was.
_UNAVAILABLE_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error"})
_EPHEMERAL = {"type": "ephemeral"}


def claude_client(settings: Settings) -> anthropic.Anthropic:
    """An ``anthropic.Anthropic`` client configured from ``settings`` (key, URL, retries, timeout).

    Without a key or URL in ``settings`` the SDK resolves them itself (environment, profiles).
    """
    key = settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else None
    return anthropic.Anthropic(
        api_key=key or None,
        base_url=settings.anthropic_base_url or None,
        max_retries=settings.anthropic_max_retries,
        timeout=settings.anthropic_timeout_s,
    )


class ClaudeModel:
    """A ``Model`` answering with Claude ``model``, then each of ``fallbacks`` while overloaded.

    The SDK retries each model first; a fallback is tried only when a model still fails with
    overload, rate limiting, a server error or a lost connection. Refusals (bad request, bad key,
    unknown model) fail at once, since another model would not fix them. ``prompt_caching`` marks
    the system prompt and the tool list cacheable, so repeated calls in a run pay less for them.
    """

    def __init__(
        self,
        model: str,
        client: anthropic.Anthropic,
        *,
        fallbacks: Sequence[str] = (),
        stream: bool = False,
        prompt_caching: bool = True,
    ) -> None:
        self._models = tuple(dict.fromkeys([model, *fallbacks]))
        self._client = client
        self._stream = stream
        self._prompt_caching = prompt_caching

    @property
    def name(self) -> str:
        """The primary model id; ``ModelResponse.model`` says which model actually answered."""
        return self._models[0]

    @property
    def models(self) -> tuple[str, ...]:
        """The models this provider tries, in order: the primary, then the fallbacks."""
        return self._models

    def request(self, request: ModelRequest) -> ModelResponse:
        """Call Claude, falling back while models are unavailable.

        ``latency_s`` covers the whole call, SDK retries and fallbacks included: the wait the caller
        saw. Raises ``ModelUnavailableError`` when no model could answer.
        """
        params = self._params(request)
        started = time.perf_counter()
        last: anthropic.APIError | None = None
        for model in self._models:
            try:
                message = self._send(model, params)
            except (anthropic.APIStatusError, anthropic.APIConnectionError) as exc:
                if not _is_unavailable(exc):
                    raise ModelUnavailableError(_refusal(model, exc)) from exc
                last = exc
                continue
            return _response(message, time.perf_counter() - started)
        assert last is not None
        tried = ", ".join(self._models)
        raise ModelUnavailableError(
            f"no Claude model could answer at {self._client.base_url} (tried {tried}; last error: "
            f"{_describe(last)}): try again later, raise anthropic_max_retries, or add models to "
            f"models.fallbacks"
        ) from last

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "max_tokens": request.max_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        if request.system:
            params["system"] = (
                [{"type": "text", "text": request.system, "cache_control": _EPHEMERAL}]
                if self._prompt_caching
                else request.system
            )
        if request.tools:
            tools: list[dict[str, Any]] = [
                {"name": t.name, "description": t.description, "input_schema": t.input_schema}
                for t in request.tools
            ]
            if self._prompt_caching:
                tools[-1]["cache_control"] = _EPHEMERAL
            params["tools"] = tools
        if request.tool_choice is not None:
            params["tool_choice"] = {"type": "tool", "name": request.tool_choice}
        return params

    def _send(self, model: str, params: dict[str, Any]) -> ApiMessage:
        if not self._stream:
            return self._client.messages.create(model=model, **params)
        with self._client.messages.stream(model=model, **params) as stream:
            return stream.get_final_message()


def _is_unavailable(exc: anthropic.APIError) -> bool:
    if isinstance(exc, _UNAVAILABLE):
        return True
    return isinstance(exc, anthropic.APIStatusError) and exc.type in _UNAVAILABLE_TYPES


def _response(message: ApiMessage, latency_s: float) -> ModelResponse:
    text = "".join(block.text for block in message.content if block.type == "text")
    calls = tuple(
        ToolCall(id=block.id, name=block.name, arguments=dict(block.input or {}))
        for block in message.content
        if block.type == "tool_use"
    )
    u = message.usage
    return ModelResponse(
        model=message.model,
        text=text,
        tool_calls=calls,
        usage=Usage(
            input_tokens=u.input_tokens,
            output_tokens=u.output_tokens,
            cache_read_tokens=u.cache_read_input_tokens or 0,
            cache_write_tokens=u.cache_creation_input_tokens or 0,
        ),
        stop_reason=message.stop_reason,
        latency_s=latency_s,
    )


def _describe(exc: anthropic.APIError) -> str:
    """The error on one line: status, API error type and the API's own message when there is one."""
    if isinstance(exc, anthropic.APIStatusError):
        detail = f"HTTP {exc.status_code} {exc.type or 'error'}: {exc.api_message or exc.message}"
    else:
        detail = f"{type(exc).__name__}: {exc.message}"
    return " ".join(detail.split())


def _refusal(model: str, exc: anthropic.APIError) -> str:
    """What went wrong when the API refused a request, and what to change."""
    why = _describe(exc)
    if isinstance(exc, anthropic.AuthenticationError):
        return f"Anthropic rejected the API key ({why}): check ANTHROPIC_API_KEY"
    if isinstance(exc, anthropic.PermissionDeniedError):
        return (
            f"the API key may not use {model} ({why}): check the key's workspace and model access"
        )
    if isinstance(exc, anthropic.NotFoundError):
        return (
            f"model {model!r} was not found ({why}): check the model ids in the config's [models]"
        )
    if isinstance(exc, anthropic.ContentTooLargeError):
        return f"the request to {model} is too large ({why}): shorten the task or the tool results"
    return (
        f"Anthropic refused the request to {model} ({why}): check the model id and max_tokens; "
        f"if they are right, this is an agentlab bug worth reporting"
    )
