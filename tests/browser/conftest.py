"""Browser tests: the demo's chat page and agent inbox in a real headless Chromium.

Needs Debian's `chromium` (/usr/bin/chromium, or $CHROMIUM) and the Python
`playwright` package (the test extra); Playwright drives the installed
browser and downloads none of its own.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from handoff_connectors.demo.runner import DemoPorts, start_demo
from handoff_connectors.rasa_runtime.processes import free_port

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# The flags this sandbox needs: no sandbox as root, no calls to Google's hosts.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


# Module scope: Playwright's sync API keeps an event loop running in this
# thread while it is open, which the asyncio tests of later modules can't share.
@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' brings playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set $CHROMIUM)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory):
    if os.environ.get("HANDOFF_SKIP_E2E"):
        pytest.skip("HANDOFF_SKIP_E2E is set: the real-Rasa demo is skipped")
    ports = DemoPorts(rasa=free_port(), actions=free_port(), sidecar=free_port())
    running = start_demo(ports, tmp_path_factory.mktemp("demo"), progress=lambda line: print(line, flush=True))
    try:
        yield running
    finally:
        running.stop()
