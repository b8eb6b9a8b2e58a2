"""What agents' tools need (database handles, clients), opened once and closed at the end.

An agent's ``deps(data_dir, options)`` factory is called on the first tool call of a run with those
options, never at import or graph construction; sync factories run in a worker thread, off the
event loop. A ``Deps`` keeps what was opened, per agent and options, until ``aclose()``, which
closes every object that has ``aclose()`` or ``close()``. The ``Runner`` closes its own; a graph
compiled on its own keeps its deps for the life of the process.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentlab.orchestration.agent import DepsFactory

log = logging.getLogger(__name__)


class Deps:
    """Opened deps, keyed by factory and run options."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._opened: dict[tuple[int, str], Any] = {}
        self._factories: dict[int, DepsFactory] = {}  # keeps each factory (and its id) alive
        self._lock = asyncio.Lock()

    async def get(self, factory: DepsFactory, options: Mapping[str, Any]) -> Any:
        """What ``factory`` builds for ``options``, built on first use."""
        key = (id(factory), json.dumps(options, sort_keys=True, default=str))
        async with self._lock:
            if key not in self._opened:
                self._factories[id(factory)] = factory
                if inspect.iscoroutinefunction(factory):
                    self._opened[key] = await factory(self.data_dir, options)
                else:  # files and databases open off the event loop
                    self._opened[key] = await asyncio.to_thread(factory, self.data_dir, options)
            return self._opened[key]

    async def aclose(self) -> None:
        """Close everything opened (``aclose()`` or ``close()``), and forget it."""
        opened, self._opened = list(self._opened.values()), {}
        self._factories.clear()
        for value in opened:
            try:
                if hasattr(value, "aclose"):
                    await value.aclose()
                elif hasattr(value, "close"):
                    await asyncio.to_thread(value.close)
            except Exception:  # one failing close must not keep the others open
                log.exception("closing %r failed", value)
