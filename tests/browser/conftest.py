"""Browser tests: Playwright for Python driving Debian's Chromium against
the real ASGI app served by uvicorn in a child process, on the test
database.

Every test gets a ``shots`` helper; screenshots go to one folder per test
run (printed at the end of the run), to be looked at.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.conftest import child_env

CHROMIUM = os.environ.get("FOUNDRY_TEST_CHROMIUM", "/usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    vendor = connection.vendor
    folder = Path(settings.DATA_DIR) / "screenshots" / (
        f"{datetime.now():%Y%m%d-%H%M%S}-{vendor}"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    folders = sorted((Path(settings.DATA_DIR) / "screenshots").glob("*"))
    if folders:
        terminalreporter.write_line(f"browser screenshots: {folders[-1]}")


@pytest.fixture(scope="session")
def web_server(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[str]:
    """The ASGI app under uvicorn on the test database; its base URL."""
    port = _free_port()
    log = open(Path(settings.DATA_DIR) / f"uvicorn-{port}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "foundry.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=settings.BASE_DIR, env=child_env(), stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {proc.returncode}; see {log.name}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"uvicorn did not answer /healthz in 60 s; see {log.name}")
        time.sleep(0.1)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture
def playwright_instance(monkeypatch: pytest.MonkeyPatch) -> Iterator[Playwright]:
    """Per test: Playwright's sync API runs an event loop in the main thread
    while it lives, which Django's async-safety check mistakes for async
    code using the ORM; the check is off only meanwhile, and never for
    child processes (``child_env`` drops it)."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
    )
    try:
        yield browser
    finally:
        browser.close()


class Shots:
    """Numbered screenshots of one test: ``shots(page, "signed-in")``."""

    def __init__(self, folder: Path, test_name: str) -> None:
        self.folder = folder
        self.test_name = test_name
        self.count = 0

    def __call__(self, page: Page, state: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.test_name}-{self.count:02d}-{state}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shots(screenshot_dir: Path, request: pytest.FixtureRequest) -> Shots:
    return Shots(screenshot_dir, request.node.name.replace("/", "_"))


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()
