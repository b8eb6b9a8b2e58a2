"""Where a run's agent code may come from, when its reference is read back from storage.

A run stores its agent's reference, and every process that resumes the run imports it: so
whoever can write the runs database (a shared PostgreSQL server, a data directory others can
write) would choose code that runs on every operator's machine. A stored reference is loaded only
if it names the configured default agent, a graph's module in the project's ``langgraph.json``
(the first one from the working directory upwards, owned by this user or root), a built-in agent
(``agentlab.domains``), or code under a path of the ``agent_paths`` setting. The check imports
nothing: paths are compared resolved (so ``..`` and symlinks cannot leave a trusted directory),
and a dotted module is found as the import system would find it, without running its packages.
A reference a caller names itself (``--agent``, ``Runner.start``) is their choice: not checked.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Any

from agentlab.config import Settings
from agentlab.errors import AgentNotFoundError, UntrustedAgentError
from agentlab.orchestration.references import (
    is_file_reference,
    normalize_reference,
    split_reference,
)

BUILT_IN = Path(__file__).resolve().parent.parent / "domains"
"""The agents shipped with agentlab (``agentlab.domains``)."""


def trusted_reference(reference: str, settings: Settings, *, whose: str = "") -> str:
    """``reference`` as it is to be loaded (a file by its real path) if it names trusted code;
    else ``UntrustedAgentError`` saying why and what to do. ``whose``: what stored it (``run
    RUN``), for the message. Imports nothing."""
    target, attr = split_reference(reference)
    roots = [_real(p) for p in settings.agent_paths]
    named = _named(settings)
    if is_file_reference(target):
        real = _real(Path(target))
        if real in named.files or _under(real, [*roots, BUILT_IN]):
            return f"{real}:{attr}"
    elif target in named.modules or _module_under(target, [*roots, BUILT_IN]):
        return reference
    owner = f"{whose}'s agent " if whose else "agent "
    paths = ", ".join(str(p) for p in settings.agent_paths) or "none set"
    raise UntrustedAgentError(
        f"{owner}{reference} is not loaded: its code is not under agent_paths ({paths}), nor a "
        f"graph of {named.where}, nor a built-in agent, and a reference read back from the "
        "runs database is imported only from there (whoever can write that database chooses "
        "it). If you trust that code, add its directory to agent_paths in the config file (or "
        "AGENTLAB_AGENT_PATHS, a JSON list), or name it in langgraph.json"
    )


@dataclass
class _Named:
    """The files and modules the default agent and the project's ``langgraph.json`` name."""

    where: str = "langgraph.json (none found from the working directory up)"
    files: set[Path] = field(default_factory=set)
    modules: set[str] = field(default_factory=set)

    def add(self, reference: str, base: Path) -> None:
        target, _ = split_reference(normalize_reference(reference, base=base))
        if is_file_reference(target):
            self.files.add(_real(Path(target)))
        else:
            self.modules.add(target)


def _named(settings: Settings) -> _Named:
    named = _Named()
    with contextlib.suppress(AgentNotFoundError):
        named.add(settings.default_agent, Path.cwd())
    config = _project_file(Path.cwd())
    if config is None:
        return named
    named.where = str(config)
    try:
        owner = config.stat().st_uid
        graphs = json.loads(config.read_text(encoding="utf-8")).get("graphs", {})
        references = [str(r) for r in graphs.values()]
    except (OSError, ValueError, AttributeError) as exc:
        named.where = f"{config} (unreadable: {exc})"
        return named
    if owner not in (os.getuid(), 0):  # another user's file does not speak for this one
        named.where = f"{config} (not trusted: owned by another user)"
        return named
    for reference in references:
        with contextlib.suppress(AgentNotFoundError):  # a malformed entry names nothing
            named.add(reference, config.parent)
    return named


def _project_file(start: Path) -> Path | None:
    """The first ``langgraph.json`` from ``start`` upwards."""
    here = start.resolve()
    for directory in (here, *here.parents):
        if (directory / "langgraph.json").is_file():
            return directory / "langgraph.json"
    return None


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path.expanduser()))


def _under(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def _module_under(name: str, roots: Sequence[Path]) -> bool:
    """Whether importing module ``name`` runs only code under ``roots``: its own file, and those
    of the packages above it not imported yet, found as the import system finds them."""
    parts = name.split(".")
    if not all(part.isidentifier() for part in parts):
        return False
    search: Any = None  # the parent package's __path__: None for a top-level module
    for depth in range(1, len(parts) + 1):
        qualified, last = ".".join(parts[:depth]), depth == len(parts)
        loaded = sys.modules.get(qualified)
        if loaded is not None:  # imported already: importing it again runs none of its code
            origin, search = getattr(loaded, "__file__", None), getattr(loaded, "__path__", None)
        else:
            spec = _find_spec(qualified, search)
            if spec is None:
                return False
            origin = spec.origin if spec.has_location else None
            search = spec.submodule_search_locations
        judged = last or loaded is None  # the module whose attribute is taken, or code to run
        if judged and origin is None and (last or search is None):
            return False  # no file to judge: built into Python, or not a module's code
        if judged and origin is not None and not _under(_real(Path(origin)), roots):
            return False
        if not last and search is None:
            return False  # not a package: it has no submodules
    return True


def _find_spec(name: str, search: Any) -> ModuleSpec | None:
    """The spec the import system would use for ``name`` (its parent's ``__path__`` given as
    ``search``), asking its finders as it does; finding a spec runs no module's code."""
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        spec = find(name, search, None) if find is not None else None
        if spec is not None:
            return spec
    return None
