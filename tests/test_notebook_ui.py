"""The quickstart notebook in JupyterLab, in headless Chromium: a click on the approval buttons'
Approve shows what followed under the buttons and changes the run's display above, without
another cell being run; the notebook's own ``await run.approve(...)`` cell then says the run was
already decided.

Playwright drives Debian's ``chromium`` (``.ci/run`` installs it), never a browser build of its
own. JupyterLab runs as a process of this interpreter, so its kernel imports this agentlab.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser import browser_page, needs_chromium
from tests.cli import MEMORY_OFF

REPOSITORY = Path(__file__).resolve().parents[1]
QUICKSTART = REPOSITORY / "notebooks" / "01_quickstart.ipynb"
# JupyterLab loads, starts a kernel and imports agentlab in it: generous on a busy machine.
WAIT = 60_000  # ms

pytestmark = [
    needs_chromium,
    pytest.mark.integration,
    pytest.mark.slow,
]


@pytest.fixture
def notebook_url(tmp_path: Path) -> Iterator[str]:
    """JupyterLab on 127.0.0.1, serving a copy of the quickstart (its runs in this test's data
    directory, no key: the notebook's scripted model): the notebook's URL. Stopped after."""
    served = tmp_path / "notebooks"
    served.mkdir()
    shutil.copy(QUICKSTART, served)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "AGENTLAB_"))}
    env.update(
        AGENTLAB_DATA_DIR=str(tmp_path / "data"),
        **MEMORY_OFF,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPOSITORY), env.get("PYTHONPATH")])),
        # Nothing of the developer's Jupyter or IPython set-up (a saved layout, a profile).
        JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter" / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter" / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "jupyter" / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "jupyter" / "workspaces"),
        IPYTHONDIR=str(tmp_path / "ipython"),
    )
    port, token = _free_port(), secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.token={token}",
        "--ServerApp.ip=127.0.0.1",
        f"--notebook-dir={served}",
    ]
    if os.geteuid() == 0:  # as in some containers: JupyterLab refuses root unless told
        command.append("--allow-root")
    log_path = tmp_path / "jupyter-lab.log"
    with log_path.open("wb") as log:
        lab = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_until_serving(lab, f"http://127.0.0.1:{port}/api/status?token={token}", log_path)
        yield f"http://127.0.0.1:{port}/lab/tree/{QUICKSTART.name}?token={token}"
    finally:
        _stop(lab)


@pytest.fixture
def page() -> Iterator[Page]:
    with browser_page(1600, 1200, WAIT) as opened:
        yield opened


def test_a_click_on_approve_shows_its_outcome_and_the_run_above_changes(
    notebook_url: str, page: Page
) -> None:
    started = _cell_index(lambda source: "lab.start(" in source)
    buttons_at = _cell_index(lambda source: source.strip() == "run.approval_buttons()")
    approved_at = _cell_index(lambda source: source.startswith("await run.approve("))
    assert started < buttons_at < approved_at

    page.goto(notebook_url)
    cells = page.locator(".jp-Notebook .jp-Cell")
    expect(cells).to_have_count(len(_cells()), timeout=WAIT)
    idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    expect(idle).to_be_attached(timeout=WAIT)  # its kernel has started
    _run_the_cells_up_to(page, cells, buttons_at)

    shown = cells.nth(started).locator(".jp-OutputArea-output h4")  # the run's display
    expect(shown).to_have_text(re.compile(r"^run run-\w+: awaiting_human$"), timeout=WAIT)
    run_id = shown.inner_text().split(":")[0].removeprefix("run ")
    panel = cells.nth(buttons_at)
    panel.get_by_role("button", name="Approve", exact=True).click()

    under = panel.locator(".widget-output")
    for line in (
        "approved archive_note (approved in the notebook)",
        'archive_note({"title": "groceries", "reason": "done"}) -> "archived groceries (done)"',
        "reply: Done: The note is archived.",
        f"run {run_id} is now completed",
    ):
        expect(under).to_contain_text(line, timeout=WAIT)
    expect(shown).to_have_text(f"run {run_id}: completed", timeout=WAIT)  # no cell was run

    cells.nth(approved_at).click()
    page.keyboard.press("Shift+Enter")
    said = cells.nth(approved_at).locator(".jp-OutputArea")
    expect(said).to_contain_text(
        f"run {run_id} was already decided (approved by a click): it is now completed",
        timeout=WAIT,
    )
    expect(said).not_to_contain_text("Traceback")


def _run_the_cells_up_to(page: Page, cells: Locator, last: int) -> None:
    """Run the cells up to ``last`` and no further (select the next one, then Run > Run All
    Above Selected Cell), and wait until the kernel has run ``last``: they run in order."""
    cells.nth(last + 1).click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Above Selected Cell")).click()
    expect(cells.nth(last).locator(".jp-InputPrompt")).to_have_text(
        re.compile(r"\[\d+\]"), timeout=WAIT
    )


def _cells() -> list[dict[str, object]]:
    return list(json.loads(QUICKSTART.read_text(encoding="utf-8"))["cells"])


def _cell_index(matches: Callable[[str], bool]) -> int:
    """The index of the quickstart's first code cell whose source ``matches``."""
    for index, cell in enumerate(_cells()):
        source = "".join(cell["source"])  # type: ignore[arg-type]
        if cell["cell_type"] == "code" and matches(source):
            return index
    raise AssertionError(f"{QUICKSTART.name} has no such cell: update this test")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_serving(
    lab: subprocess.Popen[bytes], status_url: str, log: Path, timeout: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert lab.poll() is None, f"JupyterLab exited ({lab.returncode}):\n{log.read_text()}"
        try:
            with urllib.request.urlopen(status_url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        assert time.monotonic() < deadline, f"JupyterLab did not serve:\n{log.read_text()}"
        time.sleep(0.2)


def _stop(lab: subprocess.Popen[bytes]) -> None:
    """Stop JupyterLab (it shuts its kernels down), or kill its process group if it hangs."""
    if lab.poll() is None:
        lab.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            lab.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(lab.pid, signal.SIGKILL)  # a kernel left behind, with its server gone
    lab.wait()
