"""Benchmark the full sync against the bare walk of the same GitHub
endpoints with the same client (no persistence), in one run."""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from rich.console import Console
from rich.table import Table

from foundry.actors.models import ActorInstance
from foundry.actors.processes import CeleryProcesses
from github_data.actor import github_data
from github_data.client import GitHubClient, walk_organization
from github_data.emulator import EmulatorConfig, GitHubEmulator
from github_data.models import GitHubMember, GitHubRepository, SyncState
from orgs.models import Organization, TaskIndexEntry, TaskSummary


class Command(BaseCommand):
    help = "Benchmark a 160-repository full sync against walking the same GitHub endpoints."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--repos", type=int, default=160)
        parser.add_argument("--branches-per-repo", type=int, default=10)
        parser.add_argument("--prs-per-repo", type=int, default=3)
        parser.add_argument("--members", type=int, default=30)
        parser.add_argument("--second-base-prs-per-repo", type=int, default=0)
        parser.add_argument("--fork-prs-per-repo", type=int, default=0)
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--json", dest="json_path", help="write the figures to this file")

    def handle(
        self,
        *args: Any,
        repos: int,
        branches_per_repo: int,
        prs_per_repo: int,
        members: int,
        second_base_prs_per_repo: int,
        fork_prs_per_repo: int,
        workers: int,
        json_path: str | None,
        **options: Any,
    ) -> None:
        console = Console(stderr=True)
        org = f"bench{uuid.uuid4().hex[:6]}"
        config = EmulatorConfig(
            org=org,
            repos=repos,
            branches_per_repo=branches_per_repo,
            prs_per_repo=prs_per_repo,
            members=members,
            second_base_prs_per_repo=second_base_prs_per_repo,
            fork_prs_per_repo=fork_prs_per_repo,
            auto_webhooks=False,
        )
        with tempfile.TemporaryDirectory() as tmp, GitHubEmulator(config) as emulator:
            key = emulator.write_private_key(Path(tmp) / "app.pem")
            github = {
                "GITHUB_API_URL": emulator.base_url,
                "GITHUB_APP_ID": str(emulator.app_id),
                "GITHUB_APP_PRIVATE_KEY_PATH": str(key),
                "GITHUB_APP_PRIVATE_KEY": "",
            }
            for name, value in github.items():
                setattr(settings, name, value or None)
            procs = self._start_workers(Path(tmp), {**os.environ, **github}, workers, console)
            try:
                console.print(f"bare walk of {org} ({repos} repositories)…")
                # Both sides build their client inside the timed region.
                started = time.perf_counter()
                with GitHubClient(installation_id=emulator.installation_id) as client:
                    walked = walk_organization(client, org)
                    walk_seconds = time.perf_counter() - started
                    walk_requests = client.request_count
                console.print("full sync through the github-data actor…")
                handle = github_data.get_or_create(org=org, create_with_input={"org": org})
                started = time.perf_counter()
                counts = handle.send(
                    "github_data.command.full_sync",
                    {"org": org, "installation_id": emulator.installation_id},
                    wait=True,
                    timeout=1800,
                )
                sync_seconds = time.perf_counter() - started
            finally:
                if procs is not None:
                    procs.stop()
                self._clean(org)
        figures = {
            "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
            "repos": counts["repos"],
            "branches": counts["branches"],
            "pull_requests": counts["pull_requests"],
            "members": counts["members"],
            "walk": walked,
            "sync_seconds": sync_seconds,
            "sync_requests": counts["github_requests"],
            "walk_seconds": walk_seconds,
            "walk_requests": walk_requests,
            "time_ratio": sync_seconds / walk_seconds,
            "request_ratio": counts["github_requests"] / walk_requests,
        }
        table = Table(title=f"full sync vs bare walk ({figures['database']})")
        for column in ("", "seconds", "GitHub requests"):
            table.add_column(column, justify="right")
        table.add_row("full sync", f"{sync_seconds:.2f}", str(counts["github_requests"]))
        table.add_row("bare walk", f"{walk_seconds:.2f}", str(walk_requests))
        table.add_row("ratio", f"{figures['time_ratio']:.2f}x", f"{figures['request_ratio']:.2f}x")
        Console().print(table)
        if json_path:
            Path(json_path).write_text(json.dumps(figures, indent=2) + "\n")

    def _start_workers(
        self, log_dir: Path, env: dict[str, str], count: int, console: Console
    ) -> CeleryProcesses | None:
        if settings.FOUNDRY_WORKER_MODE == "inprocess":
            from foundry.actors.inprocess import start_inprocess_worker

            start_inprocess_worker(concurrency=count)
            return None
        console.print(f"starting {count} worker processes…")
        procs = CeleryProcesses(log_dir=log_dir, env=env)
        procs.start_workers(
            count=count, queues=["actors.github_data", "actors.organization", "maintenance"]
        )
        return procs

    def _clean(self, org: str) -> None:
        GitHubRepository.objects.filter(org=org).delete()
        GitHubMember.objects.filter(org=org).delete()
        SyncState.objects.filter(org=org).delete()
        TaskIndexEntry.objects.filter(org=org).delete()
        TaskSummary.objects.filter(org=org).delete()
        Organization.objects.filter(org_id=org).delete()
        ActorInstance.objects.filter(key=org).delete()
