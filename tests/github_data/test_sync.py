"""The full sync through the github-data actor, against the emulator over
real HTTP and real worker processes (PostgreSQL and SQLite)."""

from __future__ import annotations

import io
import json
import os
import signal
import time
from typing import Any

import pytest
from django.core.management import call_command
from django.forms.models import model_to_dict

from foundry.actors.models import ActorInstance, Command, Step
from github_data.actor import github_data
from github_data.models import (
    GitHubBranch,
    GitHubMember,
    GitHubPullRequest,
    GitHubRepository,
    SyncState,
)
from orgs.actor import organization
from orgs.models import TaskIndexEntry, TaskSummary
from orgs.reads import TaskNotFound
from tests.conftest import wait_until

pytestmark = pytest.mark.workers

SYNCED_MODELS = [
    GitHubRepository,
    GitHubBranch,
    GitHubMember,
    GitHubPullRequest,
    TaskIndexEntry,
    TaskSummary,
]


def snapshot() -> dict[str, list[dict[str, Any]]]:
    return {
        model.__name__: sorted(
            (model_to_dict(row) for row in model.objects.all()), key=lambda d: d["id"]
        )
        for model in SYNCED_MODELS
    }


def run_full_sync(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("full_sync", "acme", "--json", *args, stdout=out, stderr=io.StringIO())
    return dict(json.loads(out.getvalue().strip().splitlines()[-1]))


def test_full_sync_of_160_repositories_makes_virtual_tasks_only(github_stack: Any) -> None:
    """160 repositories × 10 branches × 3 open PRs and 30 members: every count
    equals the emulator's, every open PR is a virtual task (480), no task
    actor exists, and a second full sync changes no row."""
    stack = github_stack(repos=160, branches_per_repo=10, prs_per_repo=3, members=30)
    stack.start_workers(count=2)
    first = run_full_sync()
    assert first["repos"] == 160
    assert first["branches"] == 1600
    assert first["pull_requests"] == 480
    assert first["members"] == 30
    assert first["task_index_entries"] == 480
    assert first["task_actor_instances"] == 0
    assert ActorInstance.objects.filter(actor_type="task").count() == 0
    assert first["github_requests"] > 0
    summaries = TaskSummary.objects.filter(org="acme")
    assert summaries.count() == 480
    assert not summaries.exclude(pr_state="open").exists()
    state = SyncState.objects.get(org="acme")
    assert (state.status, state.phase, state.processed, state.total) == (
        "succeeded",
        "done",
        160,
        160,
    )

    # The organization's reads answer from its own task index.
    acme = organization.get(org="acme")
    entry = TaskIndexEntry.objects.filter(org="acme").first()
    assert entry is not None
    assert acme.read("organization.read.resolve_task_repo_id", entry.task_id) == entry.repo_id
    with pytest.raises(TaskNotFound, match="'no-such-task' is not in the task index"):
        acme.read("organization.read.resolve_task_repo_id", "no-such-task")
    assert len(acme.read("organization.read.task_summaries", limit=10)) == 10

    before = snapshot()
    second = run_full_sync()
    wait_until(_organization_idle, timeout=60, what="the organization to apply the second sync")
    assert {k: v for k, v in second.items() if k != "seconds"} == {
        k: v for k, v in first.items() if k != "seconds"
    }
    assert snapshot() == before, "a second full sync changed rows"


def _organization_idle() -> bool:
    return not Command.objects.filter(
        instance__actor_type="organization", status__in=["queued", "running"]
    ).exists()


def test_sync_killed_in_the_branch_phase_resumes_at_the_next_batch(github_stack: Any) -> None:
    """A worker SIGKILLed during the branch phase: after a new worker takes
    over, the sync finishes with correct counts and no duplicate rows, and
    the step log shows the resumed batch (attempt 2 from there on)."""
    stack = github_stack(repos=60, branches_per_repo=4, prs_per_repo=1, members=5)
    stack.emulator.faults.set_latency(0.08)  # about a second per batch of branches
    (victim,) = stack.start_workers(count=1, beat=True)
    handle = github_data.get_or_create(org="acme", create_with_input={"org": "acme"})
    ref = handle.send(
        "github_data.command.full_sync",
        {"org": "acme", "installation_id": stack.emulator.installation_id},
    )
    try:
        wait_until(
            lambda: Step.objects.filter(command_id=ref.id, name="branches 2/6").exists(),
            timeout=60,
            what="the second batch of branches",
        )
    except AssertionError:
        print(stack.workers.output()[-6000:])
        print(list(Step.objects.filter(command_id=ref.id).values_list("name", "status")))
        raise
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    stack.emulator.faults.set_latency(0)
    stack.start_workers(count=1)

    counts = ref.wait(timeout=120)
    assert (counts["repos"], counts["branches"], counts["pull_requests"], counts["members"]) == (
        60,
        240,
        60,
        5,
    )
    assert GitHubBranch.objects.filter(org="acme").count() == 240
    assert TaskIndexEntry.objects.filter(org="acme").count() == 60
    steps = list(Step.objects.filter(command_id=ref.id).order_by("index"))
    names = [s.name for s in steps]
    assert len(names) == len(set(names)), "a step was recorded twice"
    resumed = [s.name for s in steps if s.attempt == 2]
    assert resumed[0].startswith("branches "), f"resumed at {resumed[0]}"
    assert int(resumed[0].split()[1].split("/")[0]) >= 3
    assert all(
        s.attempt == 1 for s in steps if s.name in ("repositories", "branches 1/6", "branches 2/6")
    )
    assert Command.objects.get(pk=ref.id).attempts == 2


def test_sync_completes_through_server_errors_and_rate_limits(github_stack: Any) -> None:
    """Bursts of 502s and a secondary rate limit (Retry-After) slow the sync
    down but do not fail it."""
    stack = github_stack(repos=12, branches_per_repo=3, prs_per_repo=1, members=4)
    stack.emulator.faults.fail_next(3, status=502, path_prefix="/repos/")
    stack.emulator.faults.secondary_rate_limit(1, retry_after=1, path_prefix="/orgs/")
    stack.emulator.faults.fail_next(2, status=503, path_prefix="/installation/")
    stack.start_workers(count=1)
    summary = run_full_sync("--installation-id", str(stack.emulator.installation_id))
    assert (
        summary["repos"],
        summary["branches"],
        summary["members"],
        summary["pull_requests"],
    ) == (12, 36, 4, 12)


def test_a_long_sync_does_not_delay_the_organizations_short_commands(github_stack: Any) -> None:
    """While a slow sync runs in the github-data actor, a command of the
    same organization's actor answers at once."""
    stack = github_stack(repos=40, branches_per_repo=2, prs_per_repo=1, members=3)
    stack.emulator.faults.set_latency(0.05)
    stack.start_workers(count=2)
    handle = github_data.get_or_create(org="acme", create_with_input={"org": "acme"})
    ref = handle.send(
        "github_data.command.full_sync",
        {"org": "acme", "installation_id": stack.emulator.installation_id},
    )
    wait_until(
        lambda: Step.objects.filter(command_id=ref.id, name__startswith="branches").exists(),
        timeout=60,
        what="the branch phase",
    )
    org = organization.get_or_create(org="acme", create_with_input={"org": "acme"})
    started = time.monotonic()
    org.send(
        "organization.command.set_installation",
        {"login": "acme", "status": "installed", "installation_id": 1},
        wait=True,
        timeout=10,
    )
    assert time.monotonic() - started < 2.0
    assert Command.objects.get(pk=ref.id).status in ("running", "queued")
    ref.wait(timeout=120)
