"""An operator retries a full sync that failed on a GitHub outage: it runs
again from the batch that failed, against the emulator over real HTTP and
real worker processes (PostgreSQL and SQLite)."""

from __future__ import annotations

from typing import Any

import pytest

from foundry.actors import CommandFailed
from foundry.actors.models import Command, CommandStatus, Step
from foundry.actors.operator import retry_failed_command
from github_data.actor import github_data
from github_data.models import SyncState

pytestmark = pytest.mark.workers


def test_a_sync_failed_on_an_outage_is_retried_from_the_failed_batch(github_stack: Any) -> None:
    stack = github_stack(repos=30, branches_per_repo=2, prs_per_repo=1, members=3)
    stack.workers.env["GITHUB_MAX_RETRIES"] = "1"
    names = sorted(r.name for r in stack.emulator.dataset.repos.values())
    # GitHub answers 503 for the pull requests of the 11th repository: the
    # second batch of the pull-request phase fails, after its one retry.
    stack.emulator.faults.fail_next(
        count=1_000, status=503, path_prefix=f"/repos/acme/{names[10]}/pulls"
    )
    stack.start_workers(count=1)
    handle = github_data.get_or_create(org="acme", create_with_input={"org": "acme"})
    ref = handle.send(
        "github_data.command.full_sync",
        {"org": "acme", "installation_id": stack.emulator.installation_id},
    )
    with pytest.raises(CommandFailed, match="503"):
        ref.wait(timeout=120)
    assert SyncState.objects.get(org="acme").status == "failed"
    before = {
        s.name: (s.pk, s.finished_at)
        for s in Step.objects.filter(command_id=ref.id, status="succeeded")
    }
    assert "pull requests 1/3" in before and "pull requests 2/3" not in before
    failed = Step.objects.get(command_id=ref.id, status="failed")
    assert failed.name == "pull requests 2/3"

    stack.emulator.faults.clear()
    assert retry_failed_command(ref.id)
    counts = ref.wait(timeout=120)
    assert (counts["repos"], counts["branches"], counts["pull_requests"]) == (30, 60, 30)
    command = Command.objects.get(pk=ref.id)
    assert (command.status, command.attempts) == (CommandStatus.SUCCEEDED, 1)
    after = {s.name: (s.pk, s.finished_at) for s in Step.objects.filter(command_id=ref.id)}
    # Everything before the failed batch replayed (the same rows); the
    # failed batch and the rest ran again; nothing diverged.
    for name, row in before.items():
        if name != "record failure":
            assert after[name] == row, name
    assert "record failure" not in after
    assert Step.objects.get(command_id=ref.id, name="pull requests 2/3").status == "succeeded"
    assert SyncState.objects.get(org="acme").status == "succeeded"
