"""Sign-in latency, idle and during a full sync.

A GitHub emulator with one organization of ``--repos`` repositories (10
branches and 3 pull requests each, 30 members) and one person in it;
Foundry's ASGI app served here over HTTP; workers as configured (the
embedded in-process worker, or worker processes: one for the github-data
and organization queues, one for the user queue, as the production shape
runs them). A sign-in is the browser's whole round trip: "Sign in with
GitHub" posted, GitHub's authorize answered (a ``login=`` hint approves at
once), the callback run to its redirect; it includes the code exchange,
the profile, e-mail, membership and installation calls, and the user
actor's ``sign_in`` command. ``signin_p50_ms`` is measured idle,
``signin_busy_p50_ms`` while a full sync of the organization runs (only
sign-ins that began and ended inside the sync count).
"""

from __future__ import annotations

import json as json_module
import os
import re
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from rich.console import Console

from foundry.actors.models import ActorInstance
from foundry.actors.processes import CeleryProcesses
from github_data.actor import github_data
from github_data.models import GitHubMember, GitHubRepository, SyncState, SyncStatus
from orgs.models import Organization, TaskIndexEntry, TaskSummary

FULL_SYNC = "github_data.command.full_sync"


class Command(BaseCommand):
    help = "Sign-in latency through the OAuth round trip, idle and during a full sync."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--runs", type=int, default=15, help="sign-ins per phase")
        parser.add_argument("--repos", type=int, default=160)
        parser.add_argument("--json", action="store_true", help="end with a JSON line")

    def handle(self, *args: Any, runs: int, repos: int, json: bool, **options: Any) -> None:
        from github_data.emulator import EmulatorConfig, GitHubEmulator
        from github_data.emulator.people import Person

        if runs < 1:
            raise CommandError("--runs must be at least 1")
        console = Console(stderr=True)
        suffix = uuid.uuid4().hex[:6]
        org, login = f"bench{suffix}", f"bencher-{suffix}"
        config = EmulatorConfig(
            org=org, repos=repos, branches_per_repo=10, prs_per_repo=3, members=30,
            people=(Person(login, "Bench Person", member_of=(org,)),), auto_webhooks=False,
        )
        with tempfile.TemporaryDirectory(prefix="bench-signin-") as tmp, GitHubEmulator(
            config
        ) as gh:
            env = {
                "GITHUB_API_URL": gh.base_url,
                "GITHUB_OAUTH_URL": gh.base_url,
                "GITHUB_APP_ID": str(gh.app_id),
                "GITHUB_APP_PRIVATE_KEY_PATH": str(gh.write_private_key(Path(tmp) / "app.pem")),
                "GITHUB_OAUTH_CLIENT_ID": gh.oauth_client_id,
                "GITHUB_OAUTH_CLIENT_SECRET": gh.oauth_client_secret,
            }
            for name, value in env.items():
                setattr(settings, name, value)
            settings.GITHUB_APP_PRIVATE_KEY = None
            workers = self._start_workers(console, Path(tmp), env)
            server, base = _serve()
            sync = github_data.get_or_create(org=org, create_with_input={"org": org})
            body = {"org": org, "installation_id": gh.installation_id}
            try:
                console.print(f"first full sync of {org} ({repos} repositories)…")
                started = time.perf_counter()
                sync.send(FULL_SYNC, body, wait=True, timeout=1800)
                first_sync_s = time.perf_counter() - started
                _sign_in(base, gh.base_url, login)  # warm-up: the user is created
                console.print(f"{runs} sign-ins, idle…")
                idle = [_sign_in(base, gh.base_url, login) for _ in range(runs)]
                console.print(f"{runs} sign-ins during full syncs…")
                busy, syncs = self._busy(sync, body, org, base, gh.base_url, login, runs)
            finally:
                server.should_exit = True
                if workers is not None:
                    workers.stop()
                self._clean(org, login)
        figures: dict[str, Any] = {
            "database": connection.vendor,
            "worker_mode": settings.FOUNDRY_WORKER_MODE,
            "repos": repos,
            "runs": runs,
            "signin_p50_ms": round(statistics.median(idle), 1),
            "signin_busy_p50_ms": round(statistics.median(busy), 1),
            "busy_ratio": round(statistics.median(busy) / statistics.median(idle), 2),
            "signin_ms": [round(v, 1) for v in idle],
            "signin_busy_ms": [round(v, 1) for v in busy],
            "first_sync_seconds": round(first_sync_s, 2),
            "syncs_during_busy": syncs,
        }
        for figure, measured in figures.items():
            if not isinstance(measured, list):
                self.stdout.write(f"{figure:22} {measured}")
        if json:
            self.stdout.write(json_module.dumps(figures))

    def _busy(
        self, sync: Any, body: dict[str, Any], org: str, base: str, github: str, login: str,
        runs: int,
    ) -> tuple[list[float], int]:
        """Sign in while a full sync runs; start another when it ends."""
        measured: list[float] = []
        syncs = 0

        def running() -> bool:
            return SyncState.objects.filter(org=org, status=SyncStatus.RUNNING).exists()

        while len(measured) < runs:
            if not running():
                sync.send(FULL_SYNC, body)
                syncs += 1
                deadline = time.monotonic() + 60
                while not running():
                    if time.monotonic() > deadline:
                        raise CommandError("the full sync did not start within 60 s")
                    time.sleep(0.01)
            ms = _sign_in(base, github, login)
            if running():
                measured.append(ms)
        while running():
            time.sleep(0.1)
        return measured, syncs

    def _start_workers(
        self, console: Console, tmp: Path, env: dict[str, str]
    ) -> CeleryProcesses | None:
        if settings.FOUNDRY_WORKER_MODE == "inprocess":
            from foundry.actors.inprocess import start_inprocess_worker

            start_inprocess_worker(concurrency=4)
            return None
        console.print("starting worker processes (github-data + organization, user)…")
        workers = CeleryProcesses(log_dir=tmp, env={**os.environ, **env})
        workers.start_workers(
            count=1, queues=["actors.github_data", "actors.organization", "maintenance"]
        )
        workers.start_workers(count=1, queues=["actors.user", "maintenance"])
        return workers

    def _clean(self, org: str, login: str) -> None:
        GitHubRepository.objects.filter(org=org).delete()
        GitHubMember.objects.filter(org=org).delete()
        SyncState.objects.filter(org=org).delete()
        TaskIndexEntry.objects.filter(org=org).delete()
        TaskSummary.objects.filter(org=org).delete()
        Organization.objects.filter(org_id__in=[org, f"personal-{login}"]).delete()
        ActorInstance.objects.filter(key__in=[org, f"personal-{login}"]).delete()
        user = get_user_model().objects.filter(username=login).first()
        if user is not None:
            ActorInstance.objects.filter(actor_type="user", key=str(user.pk)).delete()
            user.delete()


def _serve() -> tuple[uvicorn.Server, str]:
    server = uvicorn.Server(uvicorn.Config(
        "foundry.asgi:application", host="127.0.0.1", port=0, log_level="warning",
        lifespan="off",
    ))
    threading.Thread(target=server.run, name="bench-signin-web", daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise CommandError("the web server did not start within 30 s")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


def _sign_in(base: str, github: str, login: str) -> float:
    """One browser's round trip, timed from the click to the callback's
    redirect; the sign-in page itself (for its CSRF token) is not timed."""
    with httpx.Client(base_url=base, timeout=60) as browser, httpx.Client(timeout=60) as gh:
        page = browser.get("/signin/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if token is None:
            raise CommandError(f"no sign-in form at {base}/signin/ ({page.status_code})")
        started = time.perf_counter()
        begun = browser.post("/login/github/", data={
            "csrfmiddlewaretoken": token.group(1), "next": "/",
        })
        approved = gh.get(f"{begun.headers['Location']}&login={login}")
        done = browser.get(approved.headers["Location"])
        elapsed = (time.perf_counter() - started) * 1000
    if done.status_code != 302 or done.headers.get("Location") != "/":
        raise CommandError(
            f"sign-in failed: callback answered {done.status_code} "
            f"→ {done.headers.get('Location')}"
        )
    return elapsed
