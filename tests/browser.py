"""Debian's chromium, driven by Playwright, for the tests of web UIs (Phoenix, JupyterLab)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Page, sync_playwright

CHROMIUM = shutil.which("chromium")

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no `chromium` on PATH (Debian's package; .ci/run installs it)"
)


@contextmanager
def browser_page(width: int, height: int, timeout_ms: int) -> Iterator[Page]:
    """A page of a headless chromium, ``width`` x ``height``, waiting up to ``timeout_ms``."""
    assert CHROMIUM is not None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(timeout_ms)
            yield page
        finally:
            browser.close()
