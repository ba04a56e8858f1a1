"""Run a full sync of an organization through the github-data actor, with a
progress bar; ``--json`` ends with a one-line summary."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from foundry.actors import ActorError
from foundry.actors.models import ActorInstance
from foundry.actors.presence import require_worker
from github_data.actor import github_data
from github_data.client import GitHubError, find_installation_id
from github_data.models import (
    GitHubBranch,
    GitHubMember,
    GitHubPullRequest,
    GitHubRepository,
    SyncState,
    SyncStatus,
)
from orgs.actor import organization
from orgs.models import Organization, TaskIndexEntry


class Command(BaseCommand):
    help = "Run a full GitHub sync of ORG (repositories, branches, members, pull requests)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("org", help="organization login")
        parser.add_argument("--installation-id", type=int, help="GitHub App installation id")
        parser.add_argument("--timeout", type=float, default=1800, help="seconds (default 1800)")
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help="print a JSON summary last"
        )

    def handle(
        self,
        *args: Any,
        org: str,
        installation_id: int | None,
        timeout: float,
        as_json: bool,
        **options: Any,
    ) -> None:
        # The sync runs on github-data's queue and waits on the organization's:
        # without workers for both it would wait silently for its timeout.
        require_worker(github_data, organization, within=5)
        installation_id = installation_id or self._installation_id(org)
        console = Console(stderr=True)
        started = time.monotonic()
        handle = github_data.get_or_create(org=org, create_with_input={"org": org})
        ref = handle.send(
            "github_data.command.full_sync", {"org": org, "installation_id": installation_id}
        )
        self._show_progress(console, org, ref.id, started + timeout)
        try:
            counts = ref.wait(timeout=max(1.0, started + timeout - time.monotonic()))
        except ActorError as exc:
            raise CommandError(f"full sync of {org} failed: {exc}") from exc
        summary = {
            "repos": GitHubRepository.objects.filter(org=org).count(),
            "branches": GitHubBranch.objects.filter(org=org).count(),
            "pull_requests": GitHubPullRequest.objects.filter(org=org).count(),
            "members": GitHubMember.objects.filter(org=org).count(),
            "task_index_entries": TaskIndexEntry.objects.filter(org=org).count(),
            "task_actor_instances": ActorInstance.objects.filter(actor_type="task").count(),
            "github_requests": counts["github_requests"],
            "seconds": round(time.monotonic() - started, 3),
        }
        self.stdout.write(
            self.style.SUCCESS(
                f"Synced {org}: {summary['repos']} repositories, {summary['branches']} branches, "
                f"{summary['members']} members, {summary['pull_requests']} open pull requests "
                f"in {summary['seconds']}s ({summary['github_requests']} GitHub requests)"
            )
        )
        if as_json:
            self.stdout.write(json.dumps(summary))

    def _installation_id(self, org: str) -> int:
        profile = Organization.objects.filter(org_id=org).first()
        if profile and profile.installation_id:
            return profile.installation_id
        try:
            return find_installation_id(org)
        except GitHubError as exc:
            raise CommandError(
                f"no GitHub App installation found for {org!r} ({exc}); "
                "install the App on the organization or pass --installation-id"
            ) from exc

    def _show_progress(self, console: Console, org: str, command_id: int, deadline: float) -> None:
        """Draw the sync state the actor writes until this command's sync ends."""
        columns = (
            TextColumn("{task.fields[phase]:<14}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:
            bar = progress.add_task("Queued", total=None, phase="waiting")
            while time.monotonic() < deadline:
                state = SyncState.objects.filter(org=org, command_id=command_id).first()
                if state is not None:
                    progress.update(
                        bar,
                        description=state.label,
                        phase=state.phase,
                        completed=state.processed,
                        total=state.total or None,
                    )
                    if state.status in (SyncStatus.SUCCEEDED, SyncStatus.FAILED):
                        return
                time.sleep(0.2)
