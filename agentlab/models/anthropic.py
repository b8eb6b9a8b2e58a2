"""Claude through the ``anthropic`` SDK: the production ``Model`` provider.

The adapter only speaks the Messages API: retries with backoff are the SDK's own (``max_retries``
on the client), fallback to other models is ``FallbackModel``'s. What it adds: marking the system
prompt and tools cacheable, and turning API failures into errors a user can act on —
``ModelOverloadedError`` when another model might answer, ``ModelUnavailableError`` when not.
"""

from __future__ import annotations

import time
from typing import Any

import anthropic
from anthropic.types import Message as ApiMessage

from agentlab.config import Settings
from agentlab.errors import ModelOverloadedError, ModelUnavailableError
from agentlab.models.base import ModelRequest, ModelResponse, Usage
from agentlab.models.messages import Block, text_block, tool_use_block

PROVIDER = "anthropic"
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


def claude_client(settings: Settings) -> anthropic.AsyncAnthropic:
    """An async client configured from ``settings`` (key, URL, retries, timeout).

    Without a key or URL in ``settings`` the SDK resolves them itself (environment, profiles).
    """
    key = settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else None
    return anthropic.AsyncAnthropic(
        api_key=key or None,
        base_url=settings.anthropic_base_url or None,
        max_retries=settings.anthropic_max_retries,
        timeout=settings.anthropic_timeout_s,
    )


class ClaudeModel:
    """A ``Model`` answering with Claude ``model`` through an ``AsyncAnthropic`` client.

    ``prompt_caching`` marks the system prompt and the tool list cacheable, so repeated calls in a
    run pay less for them. ``latency_s`` covers the whole call, the SDK's retries included.
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
        self._client = client
        self._stream = stream
        self._prompt_caching = prompt_caching

    @property
    def name(self) -> str:
        return self._model

    async def request(self, request: ModelRequest) -> ModelResponse:
        params = self._params(request)
        started = time.perf_counter()
        try:
            message = await self._send(params)
        except (anthropic.APIStatusError, anthropic.APIConnectionError) as exc:
            if _is_unavailable(exc):
                raise ModelOverloadedError(
                    f"{self._model} at {self._client.base_url} could not answer: {_describe(exc)}"
                ) from exc
            raise ModelUnavailableError(_refusal(self._model, exc)) from exc
        return _response(message, time.perf_counter() - started)

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self._model,
            "max_tokens": request.max_tokens,
            "messages": list(request.messages),
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

    async def _send(self, params: dict[str, Any]) -> ApiMessage:
        if not self._stream:
            return await self._client.messages.create(**params)
        async with self._client.messages.stream(**params) as stream:
            return await stream.get_final_message()


def _is_unavailable(exc: anthropic.APIError) -> bool:
    if isinstance(exc, _UNAVAILABLE):
        return True
    return isinstance(exc, anthropic.APIStatusError) and exc.type in _UNAVAILABLE_TYPES


def _response(message: ApiMessage, latency_s: float) -> ModelResponse:
    content: list[Block] = []
    for block in message.content:
        if block.type == "text":
            content.append(text_block(block.text))
        elif block.type == "tool_use":
            content.append(tool_use_block(block.id, block.name, dict(block.input or {})))
    u = message.usage
    return ModelResponse(
        model=message.model,
        provider=PROVIDER,
        content=tuple(content),
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
