"""The runs table's status of a run whose writer died, set from the run's checkpoint.

The table is a copy for listing; the checkpoint (with the writes saved after it) is what a
resume continues from, so it decides.
"""

from __future__ import annotations

from agentlab.orchestration.runner.reading import Graph, context_of, snapshot
from agentlab.store import RunRecord, RunStore
from agentlab.store.records import SETTLED


async def reconcile(store: RunStore, reader: Graph, record: RunRecord) -> RunRecord:
    """``record``, its status and outcome set from its checkpoint; the claim of a dead process
    on a run found settled is cleared."""
    state = await snapshot(reader, context_of(record))
    if not state.values:  # killed before its first checkpoint: nothing to reconcile
        return record
    status = str(state.values.get("status", record.status))
    outcome = str(state.values.get("outcome", record.outcome))
    if (status, outcome) != (record.status, record.outcome):
        await store.set_status(record.run_id, status, outcome)
    if status in SETTLED:
        await store.clear_stale_lease(record.run_id)
    return await store.get_run(record.run_id)
