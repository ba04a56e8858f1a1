"""Pull requests that share a head branch name are each a virtual task: a fork's
`patch-1` next to the base repository's, and one branch opened against two bases.
Against the emulator over real HTTP, with real workers (PostgreSQL and SQLite),
through the full sync and through webhooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from foundry.actors.models import ActorInstance, Command, CommandStatus
from github_data.emulator import GitHubEmulator
from github_data.emulator.models import PullRequest, Repository
from orgs.models import TaskIndexEntry, TaskSummary
from orgs.task_index import virtual_task_id
from tests.conftest import wait_until

from .conftest import GitHubStack
from .test_sync import _organization_idle, run_full_sync, snapshot
from .test_webhooks import full_sync, hook_url, settle

pytestmark = pytest.mark.workers

SHARED = {
    "repos": 3,
    "branches_per_repo": 4,
    "prs_per_repo": 2,
    "members": 3,
    "second_base_prs_per_repo": 1,
    "fork_prs_per_repo": 2,
}


def no_failed_commands() -> None:
    failed = list(
        Command.objects.filter(status=CommandStatus.FAILED).values_list(
            "name", "error_type", "error_message"
        )
    )
    assert not failed, failed


def entry_of(repo: Repository, number: int) -> TaskIndexEntry:
    return TaskIndexEntry.objects.get(org="acme", task_id=virtual_task_id(repo.id, number))


def summary_of(repo: Repository, number: int) -> TaskSummary:
    return TaskSummary.objects.get(org="acme", task_id=virtual_task_id(repo.id, number))


def expected_head(gh: GitHubEmulator, repo: Repository, pr: PullRequest) -> tuple[Any, ...]:
    """(head repository id, full name, fork?) as GitHub reports them."""
    head = pr.head_repo or repo
    return head.id, f"{gh.dataset.owner_login(head)}/{head.name}", head.owner is not None


def live_owners() -> list[tuple[int, str]]:
    return list(
        TaskIndexEntry.objects.filter(org="acme", owns_branch=True).values_list("repo_id", "branch")
    )


def test_full_sync_makes_a_task_of_every_pull_request_sharing_a_head(
    github_stack: Callable[..., GitHubStack],
) -> None:
    """3 repositories, each with 2 PRs, one of their heads opened again against a
    second base, and 2 PRs from forks on branches named like those heads: all 15
    are tasks with their head repository recorded; a fork's branch is no branch
    of the repository; of the two PRs on one branch the lower number owns it; a
    second sync changes nothing; a closed owner hands the branch on."""
    stack = github_stack(**SHARED)
    gh = stack.emulator
    stack.start_workers()
    first = run_full_sync()
    wait_until(_organization_idle, timeout=60, what="the organization to apply the sync")
    no_failed_commands()
    assert first["pull_requests"] == first["task_index_entries"] == 15
    assert TaskSummary.objects.filter(org="acme", pr_state="open").count() == 15
    assert not ActorInstance.objects.filter(actor_type="task").exists()

    for repo in gh.dataset.repos.values():
        shared = [pr for pr in repo.pulls.values() if pr.head_repo is None]
        lowest = {pr.head: min(p.number for p in shared if p.head == pr.head) for pr in shared}
        for pr in repo.pulls.values():
            entry, summary = entry_of(repo, pr.number), summary_of(repo, pr.number)
            head = expected_head(gh, repo, pr)
            assert (entry.repo_id, entry.branch, entry.pr_number) == (repo.id, pr.head, pr.number)
            assert (entry.head_repo_id, entry.head_repo_full_name, entry.head_repo_fork) == head
            assert (
                summary.head_repo_id,
                summary.head_repo_full_name,
                summary.head_repo_fork,
            ) == head
            assert summary.head_sha == pr.head_sha
            owns = pr.head_repo is None and lowest[pr.head] == pr.number
            assert entry.owns_branch is owns, (repo.name, pr.number, pr.head)
    owners = live_owners()
    assert len(owners) == len(set(owners)) == 3 * 2

    before = snapshot()
    run_full_sync()
    wait_until(_organization_idle, timeout=60, what="the organization to apply the second sync")
    assert snapshot() == before, "a second full sync changed rows"

    # PR #1 of repo-001 is closed on GitHub (no webhook reaches Foundry): the
    # next sync archives its task, which lets go of the branch; #3, the same
    # branch into a second base, owns it now.
    repo = gh.dataset.repo("repo-001")
    assert repo.pulls[3].head == repo.pulls[1].head
    gh.dataset.close_pull_request("repo-001", 1)
    closed = run_full_sync()
    wait_until(_organization_idle, timeout=60, what="the organization to apply the third sync")
    no_failed_commands()
    assert closed["pull_requests"] == 14
    gone, heir = entry_of(repo, 1), entry_of(repo, 3)
    assert (gone.archived, gone.owns_branch) == (True, False)
    assert summary_of(repo, 1).status == "archived"
    assert (heir.archived, heir.owns_branch) == (False, True)


def test_webhooks_make_a_task_of_every_pull_request_sharing_a_head(
    github_stack: Callable[..., GitHubStack], live_server: Any
) -> None:
    """After a sync, webhooks only: a member's fork opens a PR from a branch named
    like PR #1's head, and #1's head is opened against a second base; both are new
    tasks, #1's task keeps its branch. A push to the repository's branch reaches
    the two tasks whose head it is, not the fork's; a push to the fork reaches
    the fork's task only. Closing #1 hands the branch to the second-base task,
    which keeps it when #1 is reopened."""
    stack = github_stack(repos=2, branches_per_repo=3, prs_per_repo=1, members=3)
    gh = stack.emulator
    ds = gh.dataset
    stack.start_workers()
    full_sync(gh)
    gh.webhooks.configure(url=hook_url(live_server))
    repo = ds.repo("repo-001")
    first = repo.pulls[1]
    branch, user = first.head, ds.members()[1].login
    other = next(b for b in repo.branches if b not in ("main", branch))

    ds.create_fork("repo-001", user)
    ds.create_branch(f"{user}/repo-001", branch)
    ds.push(f"{user}/repo-001", branch)
    from_fork = ds.open_pull_request("repo-001", f"{user}:{branch}", "main", title="From a fork")
    second = ds.open_pull_request("repo-001", branch, other, title="Same branch, other base")
    settle()
    assert {status for *_, status in _deliveries(gh)} == {202}
    fork_entry, second_entry = entry_of(repo, from_fork.number), entry_of(repo, second.number)
    assert (fork_entry.branch, fork_entry.head_repo_full_name, fork_entry.head_repo_fork) == (
        branch,
        f"{user}/repo-001",
        True,
    )
    assert fork_entry.head_repo_id == ds.repo(f"{user}/repo-001").id != repo.id
    assert (second_entry.branch, second_entry.head_repo_id) == (branch, repo.id)
    assert [e.owns_branch for e in (entry_of(repo, 1), second_entry, fork_entry)] == [
        True,
        False,
        False,
    ]
    assert summary_of(repo, from_fork.number).title == "From a fork"
    assert summary_of(repo, second.number).title == "Same branch, other base"

    pushed = ds.push("repo-001", branch)
    settle()
    assert summary_of(repo, 1).head_sha == summary_of(repo, second.number).head_sha == pushed
    assert summary_of(repo, from_fork.number).head_sha == from_fork.head_sha != pushed

    forked = ds.push(f"{user}/repo-001", branch)
    settle()
    assert summary_of(repo, from_fork.number).head_sha == forked
    assert summary_of(repo, 1).head_sha == pushed

    ds.close_pull_request("repo-001", 1)
    settle()
    assert (entry_of(repo, 1).archived, entry_of(repo, 1).owns_branch) == (True, False)
    assert entry_of(repo, second.number).owns_branch
    ds.reopen_pull_request("repo-001", 1)
    settle()
    assert (entry_of(repo, 1).archived, entry_of(repo, 1).owns_branch) == (False, False)
    assert entry_of(repo, second.number).owns_branch
    assert summary_of(repo, 1).status == "idle"

    assert {status for *_, status in _deliveries(gh)} == {202}
    assert not ActorInstance.objects.filter(actor_type="task").exists()
    owners = live_owners()
    assert len(owners) == len(set(owners))


def _deliveries(gh: GitHubEmulator) -> list[tuple[str, str | None, int | None]]:
    return [(d.event, d.action, d.status) for d in gh.webhooks.deliveries()]
