"""The Phoenix UI, in headless Chromium, shows a support run's trace: the page that
docs/phoenix-trace.png pictures.

Playwright drives Debian's ``chromium`` (``.ci/run`` installs it), never a browser build of its
own. ``AGENTLAB_UPDATE_SCREENSHOT=1`` rewrites docs/phoenix-trace.png from this run.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from agentlab.domains.support import DEMO_TASK, demo_script_path
from agentlab.observability.phoenix import PhoenixServer
from tests.browser import browser_page, needs_chromium
from tests.test_cli import agentlab, run_id_in

SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "phoenix-trace.png"
# Phoenix's UI is a React app fetching over GraphQL; generous on a busy machine.
UI_TIMEOUT_MS = 60_000

# The trace project of this test's run in the session's Phoenix, which the picture shows.
PROJECT = "support-demo"

pytestmark = [
    needs_chromium,
    pytest.mark.integration,
    pytest.mark.slow,
]


@pytest.fixture
def page() -> Iterator[Page]:
    with browser_page(1920, 1080, UI_TIMEOUT_MS) as opened:
        yield opened


def test_the_phoenix_ui_shows_a_support_run_as_one_trace_of_model_and_tool_spans(
    phoenix: PhoenixServer, env: dict[str, str], page: Page, tmp_path: Path
) -> None:
    traced = {**env, "AGENTLAB_OTLP_ENDPOINT": phoenix.otlp_endpoint}
    traced["AGENTLAB_TRACE_PROJECT"] = PROJECT
    ran = agentlab(traced, "run", DEMO_TASK, "--script", demo_script_path(), "--approve")
    assert ran.returncode == 0, ran.stderr
    run_id = run_id_in(ran.stdout)
    trace_id = _trace_of(phoenix, run_id)

    page.goto(f"{phoenix.url}/projects")
    project_card = page.get_by_role("heading", name=PROJECT, exact=True)
    page.get_by_role("link").filter(has=project_card).click()
    page.get_by_role("tab", name="Traces").click()
    root = page.get_by_role("row").filter(has_text="Ada Lovelace")
    root.get_by_role("link", name="run", exact=True).click()

    expect(page.get_by_text(trace_id, exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    for name, count in SPANS_IN_THE_TREE.items():
        expect(page.get_by_text(name, exact=True)).to_have_count(count, timeout=UI_TIMEOUT_MS)
    page.get_by_role("tab", name="Attributes").click()  # the selected span's: the run's root
    expect(page.get_by_text(run_id, exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)

    _widen_the_trace(page)
    page.wait_for_load_state("networkidle")
    update = os.environ.get("AGENTLAB_UPDATE_SCREENSHOT") == "1"
    shot = SCREENSHOT if update else tmp_path / SCREENSHOT.name
    page.screenshot(path=shot, full_page=True)
    assert shot.read_bytes().startswith(b"\x89PNG")
    assert SCREENSHOT.is_file(), "AGENTLAB_UPDATE_SCREENSHOT=1 pytest tests/test_phoenix_ui.py"


# The model and tool spans the trace tree lists for the support demo, approved twice.
SPANS_IN_THE_TREE = {
    "llm planner": 1,
    "llm executor": 2,
    "llm validator": 1,
    "tool search_customers": 1,
    "tool send_notification": 1,
    "tool delete_customer": 1,
}


def _trace_of(phoenix: PhoenixServer, run_id: str, timeout: float = 30.0) -> str:
    """The id of ``run_id``'s trace once Phoenix holds all of it (read over its REST API): the
    CLI exported as it exited, and Phoenix files spans a moment after it accepts them."""
    deadline = time.monotonic() + timeout
    while True:
        spans = _spans(phoenix, project=PROJECT)
        roots = [
            span["context"]["trace_id"]
            for span in spans
            if not span.get("parent_id") and span["attributes"].get("agentlab.run_id") == run_id
        ]
        tools = [span for span in spans if span["span_kind"] == "TOOL"]
        if len(roots) == 1 and len(tools) == 3:
            return str(roots[0])
        assert time.monotonic() < deadline, f"run {run_id}'s trace is not in Phoenix: {spans}"
        time.sleep(0.5)


def _spans(phoenix: PhoenixServer, project: str) -> list[dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{phoenix.url}/v1/projects/{project}/spans?limit=1000") as got:
            return list(json.load(got)["data"])
    except urllib.error.HTTPError as error:
        if error.code == 404:  # the project appears with its first span
            return []
        raise


def _widen_the_trace(page: Page) -> None:
    """For the picture only: drag the trace drawer over most of the page, then its tree over
    half of the drawer, so the tree shows its nesting and timings beside the run's attributes."""
    _drag(page, page.locator(".drawer__resize-handle"), to_x=420)
    tree_edge = page.locator(
        "[role=separator][aria-orientation=vertical]:not(.drawer__resize-handle)"
    ).first
    _drag(page, tree_edge, to_x=1250)


def _drag(page: Page, handle: Locator, to_x: float) -> None:
    box = handle.bounding_box()
    assert box is not None, "Phoenix's trace view has changed: update _widen_the_trace"
    y = box["y"] + min(box["height"] / 2, 400)
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(to_x, y, steps=10)
    page.mouse.up()
