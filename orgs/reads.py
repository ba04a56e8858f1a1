"""Read actions of the organization actor: plain queries of its own
tables, run in the caller, never queued."""

from __future__ import annotations

from dataclasses import dataclass

from foundry.actors import ActorError
from foundry.actors.handles import ActorHandle
from orgs.actor import organization
from orgs.models import TaskIndexEntry, TaskSummary


class TaskNotFound(ActorError):
    def __init__(self, org: str, task_id: str) -> None:
        super().__init__(f"task {task_id!r} is not in the task index of organization {org!r}")
        self.org = org
        self.task_id = task_id


@dataclass(frozen=True)
class TaskIndexEntryOut:
    task_id: str
    repo_id: int
    branch: str
    pr_number: int | None
    # Where ``branch`` lives (push there, open the PR from ``<owner>:<branch>``):
    # repository ``repo_id`` itself, or a fork (id None: the fork was deleted).
    head_repo_id: int | None
    head_repo_full_name: str
    head_repo_fork: bool
    owns_branch: bool
    archived: bool


@organization.read("organization.read.task_index_entry")
def get_task_index_entry(handle: ActorHandle, task_id: str) -> TaskIndexEntryOut:
    org = handle.fields["org"]
    entry = TaskIndexEntry.objects.filter(org=org, task_id=task_id).first()
    if entry is None:
        raise TaskNotFound(org, task_id)
    return TaskIndexEntryOut(
        task_id=entry.task_id,
        repo_id=entry.repo_id,
        branch=entry.branch,
        pr_number=entry.pr_number,
        head_repo_id=entry.head_repo_id,
        head_repo_full_name=entry.head_repo_full_name,
        head_repo_fork=entry.head_repo_fork,
        owns_branch=entry.owns_branch,
        archived=entry.archived,
    )


@organization.read("organization.read.resolve_task_repo_id")
def resolve_task_repo_id(handle: ActorHandle, task_id: str) -> int:
    """The repository of a task, from the organization's own index (no
    question to any other actor)."""
    return get_task_index_entry(handle, task_id).repo_id


@organization.read("organization.read.task_summaries")
def task_summaries(handle: ActorHandle, *, limit: int = 100) -> list[TaskSummary]:
    return list(
        TaskSummary.objects.filter(org=handle.fields["org"]).order_by("-updated_at")[:limit]
    )
