"""What the run store holds besides checkpoints: run records, leases and the tool journal."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any

# Statuses in which no process needs to hold a run (orchestration's Status values, which this
# package cannot import: orchestration imports it).
SETTLED = frozenset({"completed", "failed", "awaiting_human"})


@dataclass(frozen=True, slots=True)
class Lease:
    """A process's claim to advance a run, valid until ``expires_at`` (epoch seconds) unless
    renewed. ``token`` is secret to the holder; ``host`` and ``pid`` say who it is."""

    run_id: str
    token: str
    host: str
    pid: int
    expires_at: float

    @property
    def holder(self) -> str:
        return f"{self.host}:{self.pid}"

    def live(self, now: float | None = None) -> bool:
        """Unexpired, and (on this host) its process still runs: a crashed holder's lease on this
        machine is over at once, one on another host when it expires."""
        if self.expires_at <= (time.time() if now is None else now):
            return False
        return self.host != socket.gethostname() or pid_alive(self.pid)


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
