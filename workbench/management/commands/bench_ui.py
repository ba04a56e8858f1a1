"""``python manage.py bench_ui --json``: the workbench's speed with
10,000 tasks in one organization (figures: see ``workbench/bench_ui.py``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test import Client
from rich.console import Console

from tasks.benchmark import LiveServer
from workbench import bench_seed
from workbench.bench_ui import Figures, event_to_browser, first_page, sidebar_pages

CHROMIUM = os.environ.get("FOUNDRY_TEST_CHROMIUM", "/usr/bin/chromium")


class Command(BaseCommand):
    help = "Measure the workbench's first page, a task-list page and event-to-browser time."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tasks", type=int, default=10_000)
        parser.add_argument("--repos", type=int, default=100)
        parser.add_argument("--runs", type=int, default=30)
        parser.add_argument("--json", action="store_true", help="end with one JSON line")

    def handle(self, *args: Any, tasks: int, repos: int, runs: int, json: bool,
               **options: Any) -> None:
        if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
            raise CommandError(f"{CHROMIUM} is missing: install Debian's chromium "
                               "or set FOUNDRY_TEST_CHROMIUM")
        # SIGTERM (a `timeout`, Ctrl-C in a container) must still run the
        # finally below: a worker left running would take this broker's
        # doorbells for a database nobody reads.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        console = Console(stderr=True)
        database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        console.print(f"seeding {tasks} tasks in {repos} repositories ({database})…")
        org, user = bench_seed.seed(tasks, repos)
        stop_workers = None
        try:
            client = Client()
            client.force_login(user)
            console.print("first page…")
            first = first_page(client, org, runs)
            console.print("task list pages…")
            sidebar, url = sidebar_pages(client, org, runs * 3)
            with tempfile.TemporaryDirectory() as tmp:
                stop_workers = _start_worker(Path(tmp))
                console.print("event → browser…")
                events, path = self._browser(client, org, runs)
            figures = Figures(first, sidebar, events, url, path)
        finally:
            if stop_workers is not None:
                stop_workers()
            bench_seed.clean(org, user)
        out = figures.as_json(tasks=tasks, database=database)
        for key, value in out.items():
            console.print(f"{key:>26}: {value}")
        if json:
            self.stdout.write(_dumps(out))

    def _browser(self, client: Client, org: str, runs: int) -> tuple[list[float], str]:
        from playwright.sync_api import sync_playwright

        # Playwright's sync API runs a loop in this thread, which Django's
        # async-safety check mistakes for async code touching the ORM.
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        server = LiveServer()
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--disable-dev-shm-usage"])
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                base = f"http://127.0.0.1:{server.port}"
                context.add_cookies([{"name": "sessionid", "url": base,
                                      "value": client.cookies["sessionid"].value}])
                page = context.new_page()
                from orgs.models import TaskSummary

                top = TaskSummary.objects.filter(org=org).order_by("-updated_at").first()
                assert top is not None
                try:
                    return event_to_browser(page, base, org, runs, top.task_id, top.title)
                finally:
                    browser.close()
        finally:
            server.stop()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _start_worker(tmp: Path) -> Any:
    """The organization actor's worker: in this process on the embedded
    default, else a Celery worker process on its queue."""
    if settings.FOUNDRY_WORKER_MODE == "inprocess":
        from foundry.actors.inprocess import start_inprocess_worker

        start_inprocess_worker(concurrency=2)
        return None
    from foundry.actors.processes import CeleryProcesses

    workers = CeleryProcesses(log_dir=tmp, env=dict(os.environ))
    workers.start_workers(count=1, queues=["actors.organization"])
    return workers.stop


def _dumps(out: dict[str, Any]) -> str:
    return json.dumps(out, sort_keys=True)
