"""The runs table's status of a run whose writer died, set from the run's checkpoint; and ended
runs whose checkpoint disagrees.

The table is a copy for listing; the checkpoint (with the writes saved after it) is what a
resume continues from, so it decides.
"""

from __future__ import annotations

from collections.abc import Sequence

from agentlab.errors import DamagedDataError
from agentlab.orchestration.runner.reading import (
    Graph,
    context_of,
    latest_values,
    replied,
    snapshot,
)
from agentlab.orchestration.state import TERMINAL
from agentlab.store import DamagedRun, RunRecord, RunStore
from agentlab.store.records import SETTLED


async def reconcile(store: RunStore, reader: Graph, record: RunRecord) -> RunRecord:
    """``record``, its status and outcome set from its checkpoint; the claim of a dead process
    on a run found settled is cleared."""
    state = await snapshot(reader, context_of(record))
    if not state.values:  # killed before its first checkpoint: nothing to reconcile
        return record
    status = str(state.values.get("status", record.status))
    outcome = str(state.values.get("outcome", record.outcome))
    if status in TERMINAL and not replied(state):  # decided, not replied yet: not ended
        status, outcome = record.status, record.outcome
    if (status, outcome) != (record.status, record.outcome):
        await store.set_status(record.run_id, status, outcome)
    if status in SETTLED:
        await store.clear_stale_lease(record.run_id)
    return await store.get_run(record.run_id)


async def regressed(reader: Graph, records: Sequence[RunRecord | DamagedRun]) -> list[str]:
    """Ended runs whose last checkpoint says they go on: a process that had lost a run wrote to
    it after another ended it (``agentlab doctor`` reports them)."""
    found = []
    for record in records:
        if not isinstance(record, RunRecord) or record.status not in TERMINAL:
            continue
        try:
            status = (await latest_values(reader, context_of(record))).get("status")
        except DamagedDataError:
            continue  # the store's check names unreadable runs
        if status is not None and status not in TERMINAL:
            found.append(
                f"run {record.run_id}: listed {record.status}, but its last checkpoint says "
                f"{status}: a process wrote to it after it ended"
            )
    return found
