"""Models that wrap other models, for concerns that cut across providers.

A wrapper implements ``Model`` around one or more models, so wrappers stack per role, innermost
first: ``RetryingModel`` (bounded attempts with backoff, ``retry.py``) around each provider,
``FallbackModel`` across a role's models, tracing (``observability.traced.TracedModel``) around
what reaches the models, and ``BudgetedModel`` outermost, holding the call to the run's budgets
(the account its ``CallInfo`` names): a call a budget stops is never made, so it is no span. A
provider adapter only speaks its API.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from opentelemetry import trace

from agentlab.errors import ModelOverloadedError, ModelUnavailableError
from agentlab.models.base import Model, ModelRequest, ModelResponse
from agentlab.models.pricing import Pricing, dearest

log = logging.getLogger(__name__)


class WrapperModel:
    """A model around ``inner``: by default it says and does what ``inner`` does."""

    def __init__(self, inner: Model) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    def pricing(self) -> Pricing:
        return self.inner.pricing()

    async def request(self, request: ModelRequest) -> ModelResponse:
        return await self.inner.request(request)


class FallbackModel:
    """Asks each model in turn while they are overloaded; the first answer wins.

    Only ``ModelOverloadedError`` moves on to the next model: a refusal (bad request, bad key)
    would be refused by the next one too, so it is raised at once. The response lists the models
    that were tried before the one that answered (and each is a ``fallback`` event of the
    current span). Each model makes its own bounded attempts, so a
    call makes at most (attempts per model) x (number of models) requests.
    """

    def __init__(self, models: Sequence[Model]) -> None:
        if not models:
            raise ValueError("FallbackModel needs at least one model")
        self.models = tuple(models)

    @property
    def name(self) -> str:
        """The primary model's name; ``ModelResponse.model`` says which model actually answered."""
        return self.models[0].name

    def pricing(self) -> Pricing:
        """The dearest of the models: any of them may answer."""
        return dearest([m.pricing() for m in self.models])

    async def request(self, request: ModelRequest) -> ModelResponse:
        failed: list[tuple[str, ModelOverloadedError]] = []
        for model, after in zip(self.models, [*self.models[1:], None], strict=True):
            try:
                response = await model.request(request)
            except ModelOverloadedError as exc:
                failed.append((model.name, exc))
                # An event of the model call's span, when it is traced (else a no-op).
                trace.get_current_span().add_event(
                    "fallback",
                    {"model": model.name, "next": after.name if after else "", "error": str(exc)},
                )
                if after is not None:
                    log.warning("%s could not answer; asking %s instead", model.name, after.name)
                continue
            if failed:
                tried = tuple(name for name, _ in failed)
                response = dataclasses.replace(response, fallbacks=tried + response.fallbacks)
            return response
        names = ", ".join(name for name, _ in failed)
        raise ModelUnavailableError(
            f"no model could answer (tried {names}; last error: {failed[-1][1]}): try again later, "
            "raise anthropic_max_retries, or add models to models.fallbacks"
        ) from failed[-1][1]


class BudgetedModel(WrapperModel):
    """Holds each call to the budgets of the account its ``CallInfo`` names: the call's worst case
    is reserved before it is made (a call that could cross a ceiling is not made: the account's
    error says which), settled to what it used after, released if it failed. A call charged to
    no account goes through unheld."""

    async def request(self, request: ModelRequest) -> ModelResponse:
        account = request.call.account
        if account is None:
            return await self.inner.request(request)
        hold = await account.reserve(request, self.inner.pricing())
        try:
            response = await self.inner.request(request)
        except BaseException:
            await account.release(hold)
            raise
        await account.settle(hold, request, response)
        return response
