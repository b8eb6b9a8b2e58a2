"""Models that wrap other models, for concerns that cut across providers.

A wrapper implements ``Model`` around one or more models, so wrappers stack: fallback now.
Retries are not a wrapper: which failures deserve another attempt depends on the provider's API,
so each provider call is retried under the one ``RetryPolicy`` (``agentlab.models.retry``) before
a wrapper sees its error. Tracing is not one either: the call's span is made where the call and
its record are (``calls.py``); retries and fallbacks are events of that span.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from opentelemetry import trace

from agentlab.errors import ModelOverloadedError, ModelUnavailableError
from agentlab.models.base import Model, ModelRequest, ModelResponse

log = logging.getLogger(__name__)


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
