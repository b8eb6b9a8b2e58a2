"""Retries of model calls: how many attempts one call may make and how long to wait.

``RetryPolicy`` holds the whole policy: a bounded number of attempts per call, exponential backoff
with jitter, and the server's ``retry-after`` honoured up to a cap. ``RetryingModel`` wraps a
provider with it: a provider raises ``TransientModelError`` for an attempt that another attempt may
get past, and anything else ends the call at once (a refused request would be refused again). The
policy itself knows nothing of HTTP beyond ``retry_after_s``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from opentelemetry import trace

from agentlab.errors import ModelOverloadedError
from agentlab.models.base import Model, ModelRequest, ModelResponse
from agentlab.models.pricing import Pricing

log = logging.getLogger(__name__)

T = TypeVar("T")


class TransientModelError(ModelOverloadedError):
    """One attempt at a model call failed in a way the next attempt may not (overloaded, rate
    limited, timed out, cut off). ``retry_after_s`` is the wait the provider asked for, if any.

    ``RetryingModel`` retries it; once no attempt is left it becomes a ``ModelOverloadedError``
    saying how many were made. Unwrapped, it is one (another model might answer). Its message says
    what happened and what a user could change.
    """

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class RetryPolicy:
    """At most ``max_attempts`` attempts per call, first one included.

    After the n-th failed attempt the call waits what the server asked for (``retry-after``) when
    it asked for at most ``max_retry_after_s``, and gives up on this model when it asked for more;
    otherwise ``base_delay_s * 2**(n-1)``, capped at ``max_delay_s``, less a random fraction of up
    to ``jitter`` of it, so clients that failed together do not retry together. The defaults are
    the ``anthropic`` SDK's. ``rng`` and ``sleep`` are injectable so tests are deterministic.
    """

    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    jitter: float = 0.25
    max_retry_after_s: float = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)
    sleep: Callable[[float], Awaitable[None]] = field(
        default=asyncio.sleep, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(
                f"RetryPolicy.max_attempts must be at least 1, not {self.max_attempts}"
            )
        if min(self.base_delay_s, self.max_delay_s, self.max_retry_after_s) < 0:
            raise ValueError("RetryPolicy delays must not be negative")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"RetryPolicy.jitter must be between 0 and 1, not {self.jitter}")

    def wait_s(self, failed: int, retry_after_s: float | None = None) -> float | None:
        """How long to wait after ``failed`` attempts failed, the last one asking for
        ``retry_after_s``; ``None`` when no further attempt should be made."""
        if failed >= self.max_attempts:
            return None
        if retry_after_s is not None and retry_after_s > 0:
            return retry_after_s if retry_after_s <= self.max_retry_after_s else None
        delay = min(self.max_delay_s, self.base_delay_s * 2 ** (failed - 1))
        return delay * (1 - self.jitter * self.rng.random())


async def call_with_retries(
    policy: RetryPolicy, attempt: Callable[[int], Awaitable[T]], *, what: str
) -> T:
    """Await ``attempt(1)``, ``attempt(2)``... until one returns, as ``policy`` allows.

    Each retry is logged as a warning first (what failed, which attempt comes next and when), so a
    long wait shows, and is an event (``retry``) of the current span: the model call's. When the
    policy allows no further attempt, raises ``ModelOverloadedError`` saying how many attempts
    ``what`` made and how the last one failed: a fallback model may answer.
    """
    failed = 0
    while True:
        try:
            return await attempt(failed + 1)
        except TransientModelError as exc:
            failed += 1
            wait = policy.wait_s(failed, exc.retry_after_s)
            if wait is None:
                raise ModelOverloadedError(_gave_up(policy, what, failed, exc)) from exc
            # On the model call's span, when it is traced (else a no-op).
            trace.get_current_span().add_event(
                "retry",
                {"attempt": failed, "error": str(exc), "wait_s": wait, "what": what},
            )
            log.warning(
                "%s: attempt %d/%d failed (%s); attempt %d in %.2f s",
                what,
                failed,
                policy.max_attempts,
                exc,
                failed + 1,
                wait,
            )
            await policy.sleep(wait)


class RetryingModel:
    """``inner`` (a provider making one attempt per request) retried under ``policy``; the
    response's latency covers every attempt and wait. ``what`` names it in messages (by default
    the model's name)."""

    def __init__(self, inner: Model, policy: RetryPolicy, *, what: str = "") -> None:
        self.inner = inner
        self.policy = policy
        self._what = what or inner.name

    @property
    def name(self) -> str:
        return self.inner.name

    def pricing(self) -> Pricing:
        return self.inner.pricing()

    async def request(self, request: ModelRequest) -> ModelResponse:
        started = time.perf_counter()

        async def attempt(number: int) -> ModelResponse:
            return await self.inner.request(dataclasses.replace(request, attempt=number))

        response = await call_with_retries(self.policy, attempt, what=self._what)
        return dataclasses.replace(response, latency_s=time.perf_counter() - started)


def _gave_up(policy: RetryPolicy, what: str, failed: int, exc: TransientModelError) -> str:
    attempts = f"{failed} attempt{'s' if failed > 1 else ''}"
    if failed < policy.max_attempts:  # the server asked for a longer wait than the policy allows
        return (
            f"{what} gave up after {attempts}: the server asked to wait {exc.retry_after_s:g} s, "
            f"more than the {policy.max_retry_after_s:g} s allowed; {exc}"
        )
    return f"{what} gave up after {attempts}: {exc}"


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """The wait a response asks for, in seconds: ``retry-after-ms``, else ``retry-after`` (seconds
    or an HTTP date); ``None`` when it names none."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) / scale
        except ValueError:
            pass
    date = headers.get("retry-after")
    parsed = email.utils.parsedate_tz(date) if date else None
    return None if parsed is None else email.utils.mktime_tz(parsed) - time.time()
