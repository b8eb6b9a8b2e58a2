"""Why a process may not claim a run: the lease another holds, said with what to do."""

from __future__ import annotations

from agentlab.errors import Fix, RunBusyError
from agentlab.store.records import LEASE_GRACE_S, Lease, this_host
from agentlab.store.rows import clock


def busy(run_id: str, held: Lease) -> RunBusyError:
    """Why ``held`` keeps this process from claiming the run."""
    if not held.expired():
        return RunBusyError(
            f"run {run_id} is being advanced by process {held.holder} (lease until "
            f"{clock(held.expires_at)}): wait for it to pause or end, then try again"
        )
    if held.host != this_host()[0]:
        return RunBusyError(
            f"run {run_id}'s lease, held by process {held.holder} on another host, expired at "
            f"{clock(held.expires_at)}: it is taken over {LEASE_GRACE_S:g} s after that, in case "
            "that process is only paused; try again then"
        )
    return RunBusyError(
        f"run {run_id}'s lease expired at {clock(held.expires_at)}, but its process {held.holder} "
        f"still exists (stopped, or hung?) and may still be running a tool call: check it "
        f"(ps -o stat= -p {held.pid}: T is stopped) and end it, or take the run over anyway",
        fix=Fix.FORCE,
        run_id=run_id,
    )
