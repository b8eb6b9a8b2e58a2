"""Budgets: a model call is held to the run's ceilings before it is made.

``RunAccount`` is what a run's model calls are charged to (``models.base.Account``): the
``BudgetedModel`` wrapper around each role's model asks it to reserve the call's worst case
(estimated input, ``max_tokens`` of output, at the model's ``pricing()``) against every ceiling,
then settles the reservation to what the call used (or releases it if the call failed). With a
``RunLedger`` the reservation is atomic in the run store, so ceilings on a session or a principal's
day hold across processes; without one (a graph served by ``langgraph dev``) only the per-run
ceilings are held, from the run's state. A call that could cross a ceiling is not made:
``BudgetExceeded`` names the ceiling. A call no ceiling holds reserves nothing: its ledger entry is
written once, when it has been made.

Crossing ``warn_at`` of a ceiling warns: a log line, an event on the current span, and a JSON POST
to the webhook, if one is configured (its failures are logged, never fatal).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentlab.errors import AgentlabError
from agentlab.models.base import ModelRequest, ModelResponse
from agentlab.models.pricing import Pricing, worst_case
from agentlab.observability.ledger import RunLedger
from agentlab.store.records import Ceiling, LedgerEntry, Spent

log = logging.getLogger(__name__)
WEBHOOK_TIMEOUT_S = 5.0


class BudgetExceeded(AgentlabError):
    """A model call could cross a ceiling, so it was not made; ``reason`` (``budget_exceeded:
    ...``) names the ceiling."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Held:
    """A reservation held in this process (no ledger): its worst case."""

    usd: float
    tokens: float


@dataclass(frozen=True, slots=True)
class _Unreserved:
    """A call no ceiling holds: nothing is reserved; its ledger entry is written once it has
    been made (one write, not two)."""

    entry: LedgerEntry


@dataclass
class RunAccount:
    """What the model calls of one node's visit are charged to: ``ceilings`` to hold them to, the
    run's ``ledger`` (reservations in the run store) if it has one.

    ``spent`` is what the run's state already records (``usd`` and ``tokens``), used for the
    per-run ceilings when there is no ``ledger``; calls made or reserved through this account
    meanwhile (concurrent executor calls of one node) count too.
    """

    ceilings: list[Ceiling]
    ledger: RunLedger | None = None
    spent: Mapping[str, float] = field(default_factory=dict)
    warn_at: float = 0.8
    _pending: dict[str, float] = field(default_factory=lambda: {"usd": 0.0, "tokens": 0.0})
    _used: dict[str, float] = field(default_factory=lambda: {"usd": 0.0, "tokens": 0.0})

    async def reserve(
        self, request: ModelRequest, pricing: Pricing
    ) -> LedgerEntry | _Held | _Unreserved:
        """Hold ``request``'s worst case at ``pricing``; ``BudgetExceeded`` (and nothing held)
        if that could cross a ceiling."""
        role = request.role.value
        if self.ledger is not None and not self.ceilings:
            unheld = self.ledger.entry(
                phase=request.call.phase,
                role=role,
                model=pricing.model,
                reserved_usd=0.0,
                reserved_tokens=0,
            )
            return _Unreserved(unheld)
        tokens, dollars = worst_case(request, pricing.price)
        what = f"the {role} call ({pricing.model})"
        for ceiling in self.ceilings:
            if ceiling.metric == "usd" and dollars is None:
                raise self._exceeded(
                    f"budget_exceeded: {ceiling.name}: {pricing.model} has no price, so {what} "
                    "could cost anything; it was not made (add the model to "
                    "agentlab/models/prices.toml)"
                )
        dollars = dollars or 0.0
        if self.ledger is not None:
            entry = self.ledger.entry(
                phase=request.call.phase,
                role=role,
                model=pricing.model,
                reserved_usd=dollars,
                reserved_tokens=tokens,
            )
            reservation = await self.ledger.reserve(entry, self.ceilings)
            if reservation.crossed is not None:
                raise self._exceeded(_crossing(reservation.crossed, what))
            await self._warn(list(reservation.spent))
            return entry
        spent = []
        for ceiling in self.ceilings:  # per-run only: nothing else is known without a store
            metric = ceiling.metric
            before = self.spent.get(metric, 0.0) + self._used[metric] + self._pending[metric]
            this = Spent(ceiling, before, before + (dollars if ceiling.metric == "usd" else tokens))
            if this.after > ceiling.limit:
                raise self._exceeded(_crossing(this, what))
            spent.append(this)
        held = _Held(dollars, tokens)
        self._pending["usd"] += held.usd
        self._pending["tokens"] += held.tokens
        await self._warn(spent)
        return held

    async def settle(self, hold: object, request: ModelRequest, response: ModelResponse) -> None:
        """Record what the held call used."""
        if isinstance(hold, _Unreserved):
            assert self.ledger is not None
            await self.ledger.record(hold.entry, response)
            return
        if isinstance(hold, LedgerEntry):
            assert self.ledger is not None
            await self.ledger.settle(hold, response)
            return
        assert isinstance(hold, _Held)
        self._drop(hold)
        self._used["usd"] += response.cost_usd or 0.0
        self._used["tokens"] += response.usage.total

    async def release(self, hold: object) -> None:
        """Give back the hold of a call that was not made or failed."""
        if isinstance(hold, LedgerEntry):
            assert self.ledger is not None
            await self.ledger.release(hold)
        elif isinstance(hold, _Held):
            self._drop(hold)

    def _drop(self, hold: _Held) -> None:
        self._pending["usd"] -= hold.usd
        self._pending["tokens"] -= hold.tokens

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
