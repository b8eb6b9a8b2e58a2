"""What the run store holds besides checkpoints: run records (with people's feedback), leases and
the tool journal."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from agentlab.models.base import Usage

# Statuses in which no process needs to hold a run (orchestration's Status values, which this
# package cannot import: orchestration imports it).
SETTLED = frozenset({"completed", "failed", "awaiting_human"})

LEASE_GRACE_S = 10.0
"""How long past its expiry a lease held from another host still counts: that host's clock may
run behind, and its process may be paused rather than gone."""


@dataclass(frozen=True, slots=True)
class Lease:
    """A process's claim to advance a run, valid until ``expires_at`` (epoch seconds) unless
    renewed. ``token`` is secret to the holder; ``host`` and ``pid`` say who it is."""

    run_id: str
    token: str
    host: str
    pid: int
    expires_at: float
    fence: int = 0
    """The run's fencing token when this lease was taken: greater for every later claim, so a
    system a tool calls can refuse a stale holder (``ToolContext.fencing_token``)."""

    @property
    def holder(self) -> str:
        return f"{self.host}:{self.pid}"

    def live(self, now: float | None = None) -> bool:
        """Its process may still advance the run. On this host: while that process exists, even
        stopped or hung past the lease's expiry (taking such a run over needs ``force``); a
        crashed holder's lease is over at once, and so is an expired one of this very process
        (which is running, so it let the claim go without releasing it). On another host, whose
        processes cannot be seen: until the expiry plus ``LEASE_GRACE_S``."""
        if self.host == socket.gethostname():
            if self.pid == os.getpid():  # this process, running: not stopped, so past its
                return not self.expired(now)  # expiry its claim was abandoned (not released)
            return pid_alive(self.pid)
        return self.expires_at + LEASE_GRACE_S > (time.time() if now is None else now)

    def expired(self, now: float | None = None) -> bool:
        """Past its expiry: its holder stopped renewing it (stopped, hung, or gone)."""
        return self.expires_at <= (time.time() if now is None else now)


@dataclass(frozen=True)
class RunRecord:
    """A run's row: ``agent`` is the definition's reference, ``models`` the run's model spec
    (``None``: the agent's own models), ``limits`` its ``Limits`` as data; ``lease`` the claim of
    the process advancing it, if one was taken and not released."""

    run_id: str
    agent: str
    agent_name: str
    task: str
    status: str
    outcome: str
    models: dict[str, Any] | None
    options: dict[str, Any]
    limits: dict[str, Any]
    principal: str
    session: str | None
    created_at: str
    updated_at: str
    lease: Lease | None = None
    feedback: Feedback | None = None

    @property
    def holder(self) -> str | None:
        """``host:pid`` of the process advancing the run right now, if one is."""
        return self.lease.holder if self.lease is not None and self.lease.live() else None

    @property
    def interrupted(self) -> bool:
        """The run's process died (or was stopped) while it advanced: ``agentlab resume``
        continues it. Also a run whose status may be stale, until it is reconciled."""
        if self.lease is not None:
            return not self.lease.live()
        return self.status not in SETTLED


@dataclass(frozen=True, slots=True)
class Feedback:
    """A person's verdict on a run: ``score`` is ``good`` or ``bad``, ``comment`` says why,
    ``by`` who gave it and ``at`` when (UTC, ISO 8601). A run keeps the latest given."""

    run_id: str
    score: str
    comment: str
    by: str
    at: str


@dataclass(frozen=True, slots=True)
class DamagedRun:
    """A row of the runs table that cannot be read; ``problem`` says why."""

    run_id: str
    problem: str


def this_host() -> tuple[str, int]:
    return socket.gethostname(), os.getpid()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but someone else's
        return True
    return True


# -- the cost ledger, budgets and kills ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One model call in the cost ledger: reserved (at its worst case) before the call is made,
    settled to what it used after. ``cost_usd`` is ``None`` when the model's price is unknown;
    ``day`` is the UTC date the call was made on."""

    entry_id: str
    run_id: str
    agent: str
    principal: str
    session: str | None
    phase: str
    role: str
    model: str
    provider: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = None
    reserved_usd: float = 0.0
    reserved_tokens: int = 0
    settled: bool = False
    created_at: float = 0.0
    day: str = ""

    @property
    def usage(self) -> Usage:
        return Usage(
            self.input_tokens, self.output_tokens, self.cache_read_tokens, self.cache_write_tokens
        )

    @property
    def tokens(self) -> int:
        return self.usage.total


@dataclass(frozen=True, slots=True)
class Ceiling:
    """What one scope may spend: ``scope`` is ``run``, ``session`` or ``principal_day`` (``key``
    its run id, session id or principal, ``day`` the UTC date for the latter), ``metric`` is
    ``usd`` or ``tokens``; ``name`` says which ceiling it is, for people."""

    name: str
    scope: str
    key: str
    metric: str
    limit: float
    day: str = ""


@dataclass(frozen=True, slots=True)
class Spent:
    """What a ceiling's scope had spent (and reserved) before a reservation, and after it."""

    ceiling: Ceiling
    before: float
    after: float


@dataclass(frozen=True, slots=True)
class Reservation:
    """The answer to a reservation: reserved (``crossed`` is ``None``), or refused because it
    could cross ``crossed`` (then nothing was reserved); ``spent`` per ceiling checked."""

    entry_id: str
    crossed: Spent | None
    spent: tuple[Spent, ...] = ()


@dataclass(frozen=True, slots=True)
class CostTotal:
    """The settled ledger entries of one group (an agent, principal, session, day or run)."""

    key: str
    calls: int
    runs: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    """The priced calls' dollars; ``unpriced`` calls had no price and are not in it."""
    unpriced: int
    simulated: int
    """Calls whose cost is simulated (a scripted model ``priced_as`` a real one)."""
