"""Notebooks as tests (nbval): 03_observability traces its run into the session's Phoenix
(``tests/phoenix_server.py``), which its kernel finds in ``AGENTLAB_OTLP_ENDPOINT``, instead of
starting one of its own."""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

from agentlab.observability.phoenix_install import find_phoenix
from tests.phoenix_server import install_phoenix, session_phoenix

NEEDS_PHOENIX = {"03_observability.ipynb"}


def _needs_phoenix(item: pytest.Item) -> bool:
    return item.path.name in NEEDS_PHOENIX


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _needs_phoenix(item):
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Install Phoenix now, outside the cells' timeouts, if a selected notebook needs it."""
    if not session.config.option.collectonly and any(map(_needs_phoenix, session.items)):
        install_phoenix(session.config)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """While a notebook's first cell is set up, nbval starts its kernel: with the session's
    Phoenix named in the environment it inherits (and only there: the variable is put back)."""
    if not _needs_phoenix(item):
        return (yield)
    server = session_phoenix(item.config, find_phoenix())
    before = os.environ.get("AGENTLAB_OTLP_ENDPOINT")
    os.environ["AGENTLAB_OTLP_ENDPOINT"] = server.otlp_endpoint
    try:
        return (yield)
    finally:
        if before is None:
            del os.environ["AGENTLAB_OTLP_ENDPOINT"]
        else:
            os.environ["AGENTLAB_OTLP_ENDPOINT"] = before
