"""The cost ledger: every model call of a run, priced, stored with the run.

A ``RunLedger`` is a run's handle on it (the run context carries one): a call is reserved at its
worst case before it is made, settled to what it used after, or released if it was not made. The
same handle reads the run's kill flag. ``phase_costs`` and ``cache_hit_rate`` turn the stored
entries into what ``agentlab show`` prints.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from agentlab.models.base import ModelResponse, Usage
from agentlab.store.base import RunStore
from agentlab.store.records import Ceiling, LedgerEntry, Reservation

PHASES = ("plan", "replan", "prepare", "execute", "validate")


def utc_day(epoch: float | None = None) -> str:
    """The UTC date of ``epoch`` (default now), as the ledger's ``day``: ``2026-11-25``."""
    return datetime.fromtimestamp(time.time() if epoch is None else epoch, UTC).date().isoformat()


class RunLedger:
    """One run's account in the cost ledger of ``store``: who the run is, to attribute calls;
    ``webhook_url`` is where budget warnings are POSTed (JSON), if anywhere."""

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        *,
        agent: str,
        principal: str,
        session: str | None,
        webhook_url: str | None = None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.agent = agent
        self.principal = principal
        self.session = session
        self.webhook_url = webhook_url

    def entry(
        self, *, phase: str, role: str, model: str, reserved_usd: float, reserved_tokens: int
    ) -> LedgerEntry:
        """A reservation of a call of this run, made now."""
        now = time.time()
        return LedgerEntry(
            entry_id=uuid.uuid4().hex,
            run_id=self.run_id,
            agent=self.agent,
            principal=self.principal,
            session=self.session,
            phase=phase,
            role=role,
            model=model,
            reserved_usd=reserved_usd,
            reserved_tokens=reserved_tokens,
            created_at=now,
            day=utc_day(now),
        )

    async def reserve(self, entry: LedgerEntry, ceilings: list[Ceiling]) -> Reservation:
        return await self.store.reserve(entry, ceilings)

    async def settle(self, entry: LedgerEntry, response: ModelResponse) -> None:
        """Record what the reserved call used and cost (the model that answered, its price)."""
        await self.store.settle(_settled(entry, response))

    async def record(self, entry: LedgerEntry, response: ModelResponse) -> None:
        """Record a call no ceiling held (so nothing was reserved), once it has been made."""
        await self.store.record(_settled(entry, response))

    async def release(self, entry: LedgerEntry) -> None:
        await self.store.release(entry.entry_id)

    async def killed(self) -> str | None:
        """Why the run was killed (``agentlab kill``), or ``None``: one indexed read."""
        return await self.store.killed(self.run_id)


def _settled(entry: LedgerEntry, response: ModelResponse) -> LedgerEntry:
    u = response.usage
    return replace(
        entry,
        model=response.model,
        provider=response.provider,
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        cache_read_tokens=u.cache_read_tokens,
        cache_write_tokens=u.cache_write_tokens,
        cost_usd=response.cost_usd,
        settled=True,
    )


@dataclass(frozen=True)
class PhaseCost:
    """The settled calls of one phase of a run (or of the whole run, phase ``total``)."""

    phase: str
    calls: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float | None
    """``None`` when a call's model has no price: the sum would be wrong, not merely low."""
    simulated: bool

    @property
    def cache_hit_rate(self) -> float | None:
        """Cache-read tokens over cacheable input (cache read + cache write + plain input)."""
        cacheable = self.cache_read_tokens + self.cache_write_tokens + self.input_tokens
        return self.cache_read_tokens / cacheable if cacheable else None


def phase_costs(entries: Sequence[LedgerEntry]) -> list[PhaseCost]:
    """Per phase (in the run's order: plan, replan, prepare, execute, validate), then ``total``."""
    settled = [e for e in entries if e.settled]
    phases = sorted({e.phase for e in settled}, key=lambda p: (PHASES + (p,)).index(p))
    return [_sum(p, [e for e in settled if e.phase == p]) for p in phases] + [
        _sum("total", settled)
    ]


def _sum(phase: str, entries: Sequence[LedgerEntry]) -> PhaseCost:
    costs = [e.cost_usd for e in entries]
    usage = sum((e.usage for e in entries), Usage())
    return PhaseCost(
        phase,
        len(entries),
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        None if any(c is None for c in costs) else sum(c for c in costs if c is not None),
        any(e.provider == "simulated" for e in entries),
    )
