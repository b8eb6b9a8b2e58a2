"""Agent references: ``package.module:attr`` or ``path/to/file.py:attr``, as ``langgraph.json``
names graphs. A run stores its agent's reference, so any process can load the same definition.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType

from agentlab.errors import AgentNotFoundError
from agentlab.orchestration.agent import Agent


def normalize_reference(reference: str, *, base: Path | None = None) -> str:
    """``reference`` with a file path made absolute (against ``base``, default the current
    directory), so it means the same thing to a process started elsewhere."""
    target, attr = split_reference(reference)
    if is_file_reference(target):
        path = Path(target)
        if not path.is_absolute():
            path = (base or Path.cwd()) / path
        return f"{path.resolve()}:{attr}"
    return reference


def load_agent(reference: str) -> Agent:
    """The ``Agent`` a reference names. The attribute may be an ``Agent`` or a function with no
    arguments returning one. Raises ``AgentNotFoundError`` saying what is wrong."""
    target, attr = split_reference(reference)
    module = _load_module(target, reference)
    if not hasattr(module, attr):
        found = sorted(n for n, v in vars(module).items() if isinstance(v, Agent))
        hint = f"; agents there: {', '.join(found)}" if found else ""
        raise AgentNotFoundError(f"{target} has no attribute {attr!r} ({reference}){hint}")
    value = getattr(module, attr)
    if _is_factory(value):
        value = value()
    if not isinstance(value, Agent):
        raise AgentNotFoundError(
            f"{reference} is a {type(value).__name__}, not an agentlab Agent: point it at an "
            "Agent(...) definition"
        )
    return value


def _is_factory(value: object) -> bool:
    """A plain function callable without arguments (not a class, not an ``Agent``)."""
    if not inspect.isfunction(value):
        return False
    params = inspect.signature(value).parameters.values()
    return all(
        p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params
    )


def split_reference(reference: str) -> tuple[str, str]:
    """The module (or file) and the attribute a reference names."""
    target, sep, attr = reference.rpartition(":")
    if not sep or not target or not attr.isidentifier():
        raise AgentNotFoundError(
            f"agent reference {reference!r} is not 'package.module:attr' or 'path/to/file.py:attr'"
        )
    return target, attr


def is_file_reference(target: str) -> bool:
    """Whether a reference's target is a file path (else a dotted module name)."""
    return target.endswith(".py") or "/" in target or "\\" in target


def _load_module(target: str, reference: str) -> ModuleType:
    if is_file_reference(target):
        path = Path(target).resolve()
        if not path.is_file():
            raise AgentNotFoundError(f"no such file {path} (agent reference {reference})")
        # One module per file path, so loading it twice gives the same objects.
        name = f"agentlab_agents.{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:
            del sys.modules[name]
            if isinstance(exc, SyntaxError):
                raise AgentNotFoundError(
                    f"{path} has a syntax error at line {exc.lineno}: {exc.msg} "
                    f"(agent reference {reference})"
                ) from None
            raise
        return module
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name and target.startswith(exc.name):
            raise AgentNotFoundError(
                f"cannot import {target!r} (agent reference {reference}): is it installed, or on "
                "PYTHONPATH? A file can be named by its path instead: path/to/file.py:attr"
            ) from None
        raise
