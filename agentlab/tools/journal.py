"""The exactly-once journal: what the tool executor writes before and after every call it makes.

LangGraph re-runs an interrupted node from its top, so a tool that finished before the crash but
whose node's writes were never saved would run again. The executor prevents that: it journals a
call (keyed by run and call id) before running it and its outcome after, in the run's database.
On resume, a call with a journaled outcome is not run again: its outcome is replayed. A call that
started and has no outcome may or may not have had its effect: it is re-run only if the tool is
idempotent; otherwise the executor raises ``UnknownSideEffect`` and the run asks a human.

A call is journaled with its hash (``calls.call_hash``: its tool and canonical arguments), so an
entry is never replayed for another call.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from typing_extensions import TypedDict

from agentlab.errors import RunBusyError
from agentlab.tools.calls import call_hash, canonical_arguments
from agentlab.tools.tool import ToolOutcome

__all__ = [
    "Journal",
    "JournalEntry",
    "LeaseLostError",
    "MemoryJournal",
    "Resolution",
    "UnknownSideEffect",
    "call_hash",
    "canonical_arguments",
]


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journaled call. ``outcome`` is ``None`` while (or if) the call has no recorded end;
    ``attempt`` counts the times it was started."""

    run_id: str
    call_id: str
    tool: str
    call_hash: str
    arguments: Any
    attempt: int
    outcome: ToolOutcome | None
    started_at: float
    finished_at: float | None = None

    @property
    def finished(self) -> bool:
        return self.outcome is not None


class Resolution(TypedDict):
    """A human's answer about a call whose effect is unknown (its ``attempt``): run it again, or
    it happened (with ``result`` as its output)."""

    attempt: int
    action: Literal["run_again", "happened"]
    result: Any


class UnknownSideEffect(Exception):  # noqa: N818 - a condition the run handles, not a failure
    """A non-idempotent call started and left no outcome (a crash, a timeout, a connection lost
    mid-call): it may have happened."""

    def __init__(self, entry: JournalEntry, *, why: str | None = None) -> None:
        super().__init__(
            f"{entry.tool} (call {entry.call_id}, attempt {entry.attempt}) started but its "
            "outcome was never recorded: it may or may not have taken effect"
            + (f" ({why})" if why else "")
        )
        self.entry = entry
        self.why = why
        """What happened to the attempt, when the call itself failed that way (a timeout, a
        connection lost mid-call); ``None`` when the run was interrupted during the call."""


class LeaseLostError(RunBusyError):
    """This process no longer holds the run's lease: another may be advancing it."""


class Journal(Protocol):
    """Where calls are journaled. ``lease`` (a token, or ``None`` when runs are not leased) is
    checked in the same transaction as ``start``: a process that lost its run's lease cannot start
    a call (``LeaseLostError``)."""

    async def entry(self, run_id: str, call_id: str) -> JournalEntry | None: ...

    async def begin(
        self,
        run_id: str,
        call_id: str,
        *,
        tool: str,
        call_hash: str,
        arguments: Any,
        lease: str | None,
    ) -> JournalEntry | None:
        """Journal the call's first attempt as started and return ``None``; if the call was
        journaled before, change nothing and return its entry (one statement for a new call)."""
        ...

    async def start(
        self,
        run_id: str,
        call_id: str,
        *,
        tool: str,
        call_hash: str,
        arguments: Any,
        attempt: int,
        lease: str | None,
    ) -> None: ...

    async def finish(
        self,
        run_id: str,
        call_id: str,
        attempt: int,
        outcome: ToolOutcome,
        *,
        lease: str | None = None,
    ) -> None:
        """Record the outcome of ``attempt``; given the ``lease`` token of the process that ran
        it, only while that lease holds the run (``LeaseLostError`` otherwise)."""
        ...


class MemoryJournal:
    """A journal in memory: exactly-once within one process, for graphs compiled without a run
    database (tests, notebooks using LangGraph's ``InMemorySaver``)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], JournalEntry] = {}

    async def entry(self, run_id: str, call_id: str) -> JournalEntry | None:
        return self._entries.get((run_id, call_id))

    async def begin(
        self,
        run_id: str,
        call_id: str,
        *,
        tool: str,
        call_hash: str,
        arguments: Any,
        lease: str | None,
    ) -> JournalEntry | None:
        found = self._entries.get((run_id, call_id))
        if found is not None:
            return found
        await self.start(
            run_id,
            call_id,
            tool=tool,
            call_hash=call_hash,
            arguments=arguments,
            attempt=1,
            lease=lease,
        )
        return None

    async def start(
        self,
        run_id: str,
        call_id: str,
        *,
        tool: str,
        call_hash: str,
        arguments: Any,
        attempt: int,
        lease: str | None,
    ) -> None:
        self._entries[(run_id, call_id)] = JournalEntry(
            run_id,
            call_id,
            tool,
            call_hash,
            canonical_arguments(arguments),
            attempt,
            None,
            time.time(),
        )

    async def finish(
        self,
        run_id: str,
        call_id: str,
        attempt: int,
        outcome: ToolOutcome,
        *,
        lease: str | None = None,
    ) -> None:
        entry = self._entries[(run_id, call_id)]
        if entry.attempt == attempt:
            self._entries[(run_id, call_id)] = dataclasses.replace(
                entry, outcome=outcome, finished_at=time.time()
            )
