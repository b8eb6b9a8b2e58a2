"""Leases: one process at a time advances a run, and knows when it no longer may.

A lease is taken in the run store before a run advances, renewed while it does (every third of
its time to live; a database hiccup is retried until it would expire) and released after.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from agentlab.store import Lease, RunStore

log = logging.getLogger(__name__)


class Leases:
    """The leases of the runs this process advances, in the store ``store()`` gives (``None``
    once the Runner is closed)."""

    def __init__(self, store: Callable[[], RunStore | None], ttl_s: float) -> None:
        self._store = store
        self.ttl_s = ttl_s
        self._held: dict[str, Lease] = {}

    async def acquire(self, run_id: str, *, force: bool = False) -> Lease:
        """Claim ``run_id`` (``RunBusyError`` while another process holds it; ``force`` takes
        over from a stopped or hung process on this host, past its lease)."""
        store = self._store()
        assert store is not None, "the Runner is closed"
        lease = await store.acquire_lease(run_id, self.ttl_s, force=force)
        self._held[run_id] = lease
        return lease

    async def release(self, lease: Lease) -> None:
        """Let go of ``lease`` (a no-op once the Runner is closed)."""
        if self._held.get(lease.run_id) == lease:
            del self._held[lease.run_id]
        store = self._store()
        if store is not None:
            await store.release_lease(lease)

    async def release_all(self, store: RunStore) -> None:
        """Let go of every lease still held (the Runner closes)."""
        for lease in list(self._held.values()):
            await store.release_lease(lease)
        self._held.clear()

    async def keep(self, lease: Lease, lost: asyncio.Event) -> None:
        """Renew ``lease`` while the run advances; set ``lost`` once it is gone: taken by another
        process, or expired because renewing kept failing (a database hiccup is retried)."""
        expires = time.time() + self.ttl_s
        while True:
            await asyncio.sleep(self.ttl_s / 3)
            store = self._store()
            if store is None:
                lost.set()
                return
            try:
                renewed = await store.renew_lease(lease, self.ttl_s)
            except Exception:
                log.warning("could not renew the claim on run %s; retrying", lease.run_id)
                if time.time() < expires:
                    continue
                renewed = False
            if not renewed:
                lost.set()
                return
            expires = time.time() + self.ttl_s
