"""Budgets: a model call is held to the run's ceilings before it is made.

``Budget.call`` reserves the call's worst case (estimated input, ``max_tokens`` of output, at the
model's price) against every ceiling, makes the call, and settles the reservation to what it used
(or releases it if the call failed). With a ``RunLedger`` the reservation is atomic in the run
store, so ceilings on a session or a principal's day hold across processes; without one (a graph
served by ``langgraph dev``) only the per-run ceilings are held, from the run's state. A call that
could cross a ceiling is not made: ``BudgetExceeded`` names the ceiling.

Crossing ``warn_at`` of a ceiling warns: a log line, an event on the current span, and a JSON POST
to the webhook, if one is configured (its failures are logged, never fatal).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentlab.errors import AgentlabError
from agentlab.models.base import Model, ModelRequest, ModelResponse
from agentlab.models.calls import ModelCallRecord
from agentlab.models.pricing import price_for, worst_case
from agentlab.observability.ledger import RunLedger
from agentlab.store.records import Ceiling, Spent

log = logging.getLogger(__name__)
WEBHOOK_TIMEOUT_S = 5.0


class BudgetExceeded(AgentlabError):
    """A model call could cross a ceiling, so it was not made; ``reason`` (``budget_exceeded:
    ...``) names the ceiling."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Budget:
    """Holds the model calls of one node's visit to ``ceilings``.

    ``spent`` is what the run's state already records (``usd`` and ``tokens``), used for the
    per-run ceilings when there is no ``ledger``; calls made or reserved through this object
    meanwhile (concurrent executor calls of one node) count too.
    """

    ceilings: list[Ceiling]
    ledger: RunLedger | None = None
    spent: Mapping[str, float] = field(default_factory=dict)
    warn_at: float = 0.8
    _pending: dict[str, float] = field(default_factory=lambda: {"usd": 0.0, "tokens": 0.0})
    _used: dict[str, float] = field(default_factory=lambda: {"usd": 0.0, "tokens": 0.0})

    async def call(
        self,
        request: ModelRequest,
        model: Model,
        phase: str,
        make: Callable[[], Awaitable[tuple[ModelResponse, ModelCallRecord]]],
    ) -> tuple[ModelResponse, ModelCallRecord]:
        """Reserve ``request``'s worst case, call ``make``, settle; ``BudgetExceeded`` (and no
        call) if it could cross a ceiling."""
        role = request.role.value
        priced_as, price = price_for(model)
        tokens, dollars = worst_case(request, price)
        what = f"the {role} call ({priced_as})"
        for ceiling in self.ceilings:
            if ceiling.metric == "usd" and dollars is None:
                raise self._exceeded(
                    f"budget_exceeded: {ceiling.name}: {priced_as} has no price, so {what} "
                    "could cost anything; it was not made (add the model to "
                    "agentlab/models/prices.toml)"
                )
        dollars = dollars or 0.0
        if self.ledger is not None:
            entry = self.ledger.entry(
                phase=phase,
                role=role,
                model=priced_as,
                reserved_usd=dollars,
                reserved_tokens=tokens,
            )
            reservation = await self.ledger.reserve(entry, self.ceilings)
            spent = list(reservation.spent)
            if reservation.crossed is not None:
                raise self._exceeded(_crossing(reservation.crossed, what))
            try:
                await self._warn(spent)
                response, record = await make()
            except BaseException:
                await self.ledger.release(entry)
                raise
            await self.ledger.settle(entry, record)
            return response, record
        spent = []
        for ceiling in self.ceilings:  # per-run only: nothing else is known without a store
            metric = ceiling.metric
            before = self.spent.get(metric, 0.0) + self._used[metric] + self._pending[metric]
            this = Spent(ceiling, before, before + (dollars if ceiling.metric == "usd" else tokens))
            if this.after > ceiling.limit:
                raise self._exceeded(_crossing(this, what))
            spent.append(this)
        self._pending["usd"] += dollars
        self._pending["tokens"] += tokens
        try:
            await self._warn(spent)
            response, record = await make()
        finally:
            self._pending["usd"] -= dollars
            self._pending["tokens"] -= tokens
        self._used["usd"] += record["cost_usd"] or 0.0
        self._used["tokens"] += (
            record["input_tokens"]
            + record["output_tokens"]
            + record["cache_read_tokens"]
            + record["cache_write_tokens"]
        )
        return response, record

    def _exceeded(self, reason: str) -> BudgetExceeded:
        log.warning("%s", reason)
        _span_event("agentlab.budget.exceeded", {"agentlab.budget.reason": reason})
        return BudgetExceeded(reason)

    async def _warn(self, spent: list[Spent]) -> None:
        for s in spent:
            mark = self.warn_at * s.ceiling.limit
            if not (s.before < mark <= s.after):
                continue
            message = (
                f"budget warning: {s.ceiling.name}: {_amount(s.ceiling.metric, s.after)} spent "
                f"or reserved, {s.after / s.ceiling.limit:.0%} of it"
            )
            log.warning("%s", message)
            payload = {
                "event": "budget_warning",
                "ceiling": s.ceiling.name,
                "scope": s.ceiling.scope,
                "key": s.ceiling.key,
                "metric": s.ceiling.metric,
                "limit": s.ceiling.limit,
                "spent": s.after,
                "fraction": s.after / s.ceiling.limit,
                "message": message,
            }
            if self.ledger is not None:
                payload |= {
                    "run_id": self.ledger.run_id,
                    "principal": self.ledger.principal,
                    "session": self.ledger.session,
                    "agent": self.ledger.agent,
                }
            _span_event(
                "agentlab.budget.warning",
                {f"agentlab.budget.{k}": v for k, v in payload.items() if v is not None},
            )
            if self.ledger is not None and self.ledger.webhook_url:
                await post_webhook(self.ledger.webhook_url, payload)


async def post_webhook(url: str, payload: dict[str, Any]) -> None:
    """POST ``payload`` as JSON to ``url``; a failure is logged, never raised."""
    import httpx

    try:
        async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_S) as client:
            response = await client.post(url, json=payload)
            response.raise_for_status()
    except Exception as exc:
        log.warning("the budget webhook %s failed: %s: %s", url, type(exc).__name__, exc)


def _span_event(name: str, attributes: dict[str, Any]) -> None:
    """An event on the current span (a no-op span when tracing is off)."""
    from opentelemetry import trace

    trace.get_current_span().add_event(name, attributes)


def _crossing(spent: Spent, what: str) -> str:
    c = spent.ceiling
    before = _amount(c.metric, spent.before)
    could = _amount(c.metric, spent.after - spent.before)
    verb = "cost" if c.metric == "usd" else "use"
    return (
        f"budget_exceeded: {c.name}: {before} spent or reserved, and {what} could {verb} up to "
        f"{could} more; it was not made"
    )


def _amount(metric: str, value: float) -> str:
    return f"${value:.4f}" if metric == "usd" else f"{int(value)} tokens"
