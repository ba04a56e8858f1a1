"""Pull requests as virtual tasks, and which task owns a branch.

Bodies of the organization actor's steps (``orgs/commands.py``): they write the
task index and task summaries, which only that actor writes.

A pull request's task is keyed by the pull request (``pr-<repo id>-<number>``),
never by its head branch's name: two open pull requests may share one (a fork's
``patch-1`` next to the repository's own, or one branch opened against two
bases), and each is a task.

**Branch ownership.** "A branch belongs to at most one live task" holds for the
branches of a task's own repository, and the database enforces it
(``task_index_one_owner_per_branch``, a partial unique constraint, with the
check ``task_index_owner_is_live_and_local``):

- a fork's branch is not a branch of the base repository: its task owns none;
- an archived task (its pull request closed or merged) owns none;
- of the live tasks on a branch, the owner is the one that already owns it;
  when none does, a task without a pull request (a person's task on that
  branch), else the lowest pull request number.

Ownership is written in two moves so that every statement is valid under
constraints checked row by row: rows are written without gaining ownership
(archiving gives it up), then ``assign_owners`` gives each touched branch that
has no live owner its owner.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import F
from django.utils import timezone

from foundry.upsert import upsert_rows
from orgs.models import PullRequestState, TaskIndexEntry, TaskStatus, TaskSummary
from orgs.schemas import PullRequestIn

ARCHIVE_REASONS = {"closed": "PR closed", "merged": "PR merged"}

BranchKey = tuple[int, str]  # (repository id, branch name)


def virtual_task_id(repo_id: int, number: int) -> str:
    """A pull request's task id: stable, so a second sync finds it again."""
    return f"pr-{repo_id}-{number}"


def apply_pull_requests(org: str, pulls: list[PullRequestIn]) -> dict[str, Any]:
    """Each pull request into its task's index entry and summary."""
    entries = TaskIndexEntry.objects.filter(org=org, repo_id__in={pr.repo_id for pr in pulls})
    by_pull: dict[tuple[int, int], str] = {}
    unclaimed: dict[BranchKey, str] = {}  # a person's task owning the branch, no PR yet
    for entry in entries:
        if entry.pr_number is not None:
            by_pull[(entry.repo_id, entry.pr_number)] = entry.task_id
        elif entry.owns_branch:
            unclaimed[(entry.repo_id, entry.branch)] = entry.task_id
    index_rows: dict[Any, dict[str, Any]] = {}
    summary_rows: dict[Any, dict[str, Any]] = {}
    touched: set[BranchKey] = set()
    # By number, so that of two new PRs on a person's branch the lower adopts it.
    for pr in sorted(pulls, key=lambda p: (p.repo_id, p.number)):
        local = pr.head_repo_id == pr.repo_id
        task_id = by_pull.get((pr.repo_id, pr.number))
        if task_id is None and local and pr.state == "open":
            task_id = unclaimed.pop((pr.repo_id, pr.head_ref), None)
        task_id = task_id or virtual_task_id(pr.repo_id, pr.number)
        archived = pr.state != "open"
        index_rows[task_id] = {
            "org": org,
            "task_id": task_id,
            "repo_id": pr.repo_id,
            "branch": pr.head_ref,
            "pr_number": pr.number,
            **_head_repo(pr),
            "archived": archived,
        }
        if archived or not local:
            index_rows[task_id]["owns_branch"] = False  # gains none here: see assign_owners
        if local:
            touched.add((pr.repo_id, pr.head_ref))
        summary_rows[task_id] = _summary(org, task_id, pr)
    task_ids = list(index_rows)
    index = upsert_rows(
        TaskIndexEntry.objects.filter(org=org, task_id__in=task_ids),
        index_rows,
        model=TaskIndexEntry,
        key=lambda row: row.task_id,
    )
    summaries = upsert_rows(
        TaskSummary.objects.filter(org=org, task_id__in=task_ids),
        summary_rows,
        model=TaskSummary,
        key=lambda row: row.task_id,
    )
    owners = assign_owners(org, touched)
    changed = index.created or index.updated or summaries.created or summaries.updated
    return {
        "index": index.as_dict(),
        "summaries": summaries.as_dict(),
        "new_owners": owners,
        "changed": sorted({*(task_ids if changed else []), *owners}),
    }


def _head_repo(pr: PullRequestIn) -> dict[str, Any]:
    return {
        "head_repo_id": pr.head_repo_id,
        "head_repo_full_name": pr.head_repo_full_name,
        "head_repo_fork": pr.head_repo_fork,
    }


def _summary(org: str, task_id: str, pr: PullRequestIn) -> dict[str, Any]:
    return {
        "org": org,
        "task_id": task_id,
        "repo_id": pr.repo_id,
        "repo_name": pr.repo_name,
        "title": pr.title,
        "branch": pr.head_ref,
        **_head_repo(pr),
        "head_sha": pr.head_sha,
        "pr_number": pr.number,
        "pr_state": pr.state,
        "pr_url": pr.html_url,
        "author_login": pr.author_login,
        "author_avatar_url": pr.author_avatar_url,
        "status": TaskStatus.ARCHIVED if pr.state != "open" else TaskStatus.IDLE,
        "archived_reason": ARCHIVE_REASONS.get(pr.state, ""),
        "updated_at": pr.updated_at or timezone.now(),
    }


def assign_owners(org: str, keys: Iterable[BranchKey]) -> list[str]:
    """Give each branch in ``keys`` that no live task owns its owner (see the
    module's rule); returns the tasks that became owners."""
    keys = set(keys)
    if not keys:
        return []
    live: dict[BranchKey, list[TaskIndexEntry]] = defaultdict(list)
    candidates = TaskIndexEntry.objects.filter(
        org=org,
        repo_id__in={repo_id for repo_id, _ in keys},
        branch__in={branch for _, branch in keys},
        archived=False,
        head_repo_id=F("repo_id"),
    )
    for entry in candidates:
        if (entry.repo_id, entry.branch) in keys:
            live[(entry.repo_id, entry.branch)].append(entry)
    heirs = [
        min(tasks, key=lambda e: (e.pr_number is not None, e.pr_number or 0))
        for tasks in live.values()
        if not any(e.owns_branch for e in tasks)
    ]
    # One statement for all: each heir is the only owner of its branch.
    TaskIndexEntry.objects.filter(pk__in=[e.pk for e in heirs]).update(owns_branch=True)
    return sorted(e.task_id for e in heirs)


def close_pull_requests_not_open(
    org: str, still_open: set[tuple[Any, ...]]
) -> tuple[list[str], list[str]]:
    """After a full sync: a task whose pull request is no longer open on GitHub
    was closed there (the sync only sees open ones). Archived, it gives up its
    branch, which the next live task on it takes. Returns (the tasks closed,
    the tasks that became owners)."""
    stale = [
        s
        for s in TaskSummary.objects.filter(org=org, pr_state=PullRequestState.OPEN)
        if (s.repo_id, s.pr_number) not in still_open
    ]
    for summary in stale:
        summary.pr_state = PullRequestState.CLOSED
        summary.status = TaskStatus.ARCHIVED
        summary.archived_reason = ARCHIVE_REASONS["closed"]
        summary.updated_at = timezone.now()
    TaskSummary.objects.bulk_update(stale, ["pr_state", "status", "archived_reason", "updated_at"])
    task_ids = [s.task_id for s in stale]
    entries = TaskIndexEntry.objects.filter(org=org, task_id__in=task_ids)
    released = {(e.repo_id, e.branch) for e in entries if e.head_repo_id == e.repo_id}
    entries.update(archived=True, owns_branch=False)
    return task_ids, assign_owners(org, released)


def tasks_on_branch(org: str, repo_id: int, branch: str) -> list[str]:
    """The live tasks whose head is ``branch`` of repository ``repo_id`` itself
    (a fork's branch of the same name is another branch)."""
    return list(
        TaskIndexEntry.objects.filter(
            org=org, repo_id=repo_id, branch=branch, archived=False, head_repo_id=F("repo_id")
        )
        .order_by("task_id")
        .values_list("task_id", flat=True)
    )
