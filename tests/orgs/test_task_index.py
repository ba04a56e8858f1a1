"""The task index's branch ownership: the database's rule, the rule the
organization actor applies, and the migration that brought both."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from orgs.models import TaskIndexEntry, TaskSummary
from orgs.schemas import PullRequestIn
from orgs.task_index import apply_pull_requests, close_pull_requests_not_open, virtual_task_id

REPO, FORK = 101, 202


def entry(task_id: str, branch: str = "patch-1", **fields: Any) -> TaskIndexEntry:
    fields = {"repo_id": REPO, "head_repo_id": REPO, **fields}
    return TaskIndexEntry.objects.create(org="acme", task_id=task_id, branch=branch, **fields)


def refused(**fields: Any) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        entry("refused", **fields)


@pytest.mark.django_db
def test_the_database_allows_one_live_local_owner_per_branch() -> None:
    """Two owners of one branch, an archived owner, and an owner whose branch
    lives in a fork (or in a deleted one) are refused by the database; tasks
    that do not own a branch may share it, with each other and with a fork."""
    entry("a", owns_branch=True)
    refused(owns_branch=True)
    refused(branch="b", owns_branch=True, archived=True)
    refused(branch="b", owns_branch=True, head_repo_id=FORK)
    refused(branch="b", owns_branch=True, head_repo_id=None)
    entry("second-base")
    entry("from-fork", head_repo_id=FORK, head_repo_fork=True)
    entry("other-repo", repo_id=REPO + 1, head_repo_id=REPO + 1, owns_branch=True)
    entry("c", branch="b", owns_branch=True)
    assert TaskIndexEntry.objects.filter(owns_branch=True).count() == 3


def pull(
    number: int, head_repo_id: int = REPO, state: Literal["open", "closed"] = "open"
) -> PullRequestIn:
    return PullRequestIn(
        repo_id=REPO,
        repo_name="r",
        number=number,
        title=f"#{number}",
        head_ref="patch-1",
        head_sha="a" * 40,
        head_repo_id=head_repo_id,
        head_repo_full_name="acme/r" if head_repo_id == REPO else "someone/r",
        head_repo_fork=head_repo_id != REPO,
        author_login="someone",
        html_url=f"https://github.example/acme/r/pull/{number}",
        state=state,
    )


def owner() -> str:
    return TaskIndexEntry.objects.get(org="acme", branch="patch-1", owns_branch=True).task_id


@pytest.mark.django_db
def test_a_persons_task_is_adopted_by_the_lowest_pull_request_on_its_branch() -> None:
    """A person's task owning `patch-1` (no PR yet): of two PRs opened from it,
    #4 adopts that task and #7 is a task of its own; a fork's `patch-1` PR is
    another task and owns nothing. Closing #4 hands the branch to #7."""
    entry("person", owns_branch=True)
    apply_pull_requests("acme", [pull(7), pull(5, head_repo_id=FORK), pull(4)])
    index = {e.task_id: e for e in TaskIndexEntry.objects.all()}
    assert set(index) == {"person", virtual_task_id(REPO, 7), virtual_task_id(REPO, 5)}
    assert index["person"].pr_number == 4
    assert owner() == "person"
    assert index[virtual_task_id(REPO, 5)].head_repo_full_name == "someone/r"
    assert TaskSummary.objects.count() == 3

    apply_pull_requests("acme", [pull(4, state="closed")])
    assert owner() == virtual_task_id(REPO, 7)
    assert TaskIndexEntry.objects.get(task_id="person").archived
    apply_pull_requests("acme", [pull(4)])  # reopened: #7 already owns the branch
    assert owner() == virtual_task_id(REPO, 7)

    closed, heirs = close_pull_requests_not_open("acme", {(REPO, 4), (REPO, 5)})
    assert (closed, heirs) == ([virtual_task_id(REPO, 7)], ["person"])
    assert owner() == "person"


@pytest.mark.django_db(transaction=True)
def test_migration_keeps_existing_tasks_valid() -> None:
    """Rows written before orgs 0002 (one task per branch): each keeps its
    branch as a task of its own repository, unless its summary is archived."""
    executor = MigrationExecutor(connection)
    before = [("orgs", "0001_initial")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    entries, summaries = (
        old.get_model("orgs", m).objects for m in ("TaskIndexEntry", "TaskSummary")
    )
    for task_id, branch, status in [("live", "a", "idle"), ("gone", "b", "archived")]:
        entries.create(org="acme", task_id=task_id, repo_id=REPO, branch=branch, pr_number=1)
        summaries.create(
            org="acme",
            task_id=task_id,
            repo_id=REPO,
            repo_name="r",
            title="t",
            branch=branch,
            status=status,
        )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    live, gone = (
        TaskIndexEntry.objects.get(task_id="live"),
        TaskIndexEntry.objects.get(task_id="gone"),
    )
    assert (live.head_repo_id, live.head_repo_fork, live.archived, live.owns_branch) == (
        REPO,
        False,
        False,
        True,
    )
    assert (gone.head_repo_id, gone.archived, gone.owns_branch) == (REPO, True, False)
    assert set(TaskSummary.objects.values_list("head_repo_id", flat=True)) == {REPO}
