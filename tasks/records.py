"""The task record: written only inside the task actor's steps.

Every change of a record goes through ``save_and_push``, which saves it and
sends the organization the task's summary in the same step (the send is an
insert in the step's transaction), so the sidebar never reads a task actor
and never misses a change.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.utils import timezone

from github_data.models import GitHubMember, GitHubRepository
from orgs.actor import organization
from orgs.models import TaskIndexEntry, TaskSummary
from tasks.errors import TaskError, TaskNotMaterialized
from tasks.models import Task, TaskOrigin, TaskState
from users.models import Membership


def row(org: str, task_id: str) -> Task:
    found = Task.objects.filter(org=org, task_id=task_id).select_related("owner").first()
    if found is None:
        raise TaskNotMaterialized(f"task {org}/{task_id} has no record yet (initialize first)")
    return found


def status_of(task: Task) -> str:
    return "archived" if task.archived else str(task.state)


def avatar_of(org: str, login: str) -> str:
    """The person's avatar as the last sync saw it (empty if unknown)."""
    if not login:
        return ""
    return (
        GitHubMember.objects.filter(org=org, login=login)
        .values_list("avatar_url", flat=True).first() or ""
    )


def owner_login(task: Task) -> str:
    return task.owner.get_username() if task.owner is not None else ""


def describe(task: Task) -> dict[str, Any]:
    """The record as JSON (what commands return and the step log keeps)."""
    return {
        "org": task.org, "task_id": task.task_id, "repo_id": task.repo_id,
        "repo_full_name": task.repo_full_name, "branch": task.branch,
        "base_branch": task.base_branch, "title": task.title, "origin": task.origin,
        "status": status_of(task), "archived_reason": task.archived_reason,
        "owner_login": owner_login(task), "pr_number": task.pr_number,
        "pr_state": task.pr_state, "pr_url": task.pr_url,
        "lines_added": task.lines_added, "lines_removed": task.lines_removed,
        "files_changed": task.files_changed,
    }


def summary_update(task: Task) -> dict[str, Any]:
    login = owner_login(task)
    return {
        "task_id": task.task_id, "title": task.title, "status": status_of(task),
        "archived": task.archived, "archived_reason": task.archived_reason,
        "owner_login": login, "owner_avatar_url": avatar_of(task.org, login),
        "pr_number": task.pr_number, "pr_state": task.pr_state, "pr_url": task.pr_url,
        "lines_added": task.lines_added, "lines_removed": task.lines_removed,
        "updated_at": task.updated_at.isoformat(),
    }


def save_and_push(task: Task) -> dict[str, Any]:
    """Save the record and push its summary to the organization (inside a
    step: both commit together, or neither)."""
    task.updated_at = timezone.now()
    task.save()
    org = organization.get_or_create(org=task.org, create_with_input={"org": task.org})
    org.send("organization.command.update_task", summary_update(task))
    return describe(task)


def person(org: str, login: str) -> User:
    """A person who signed in (their login is their username) and is a
    member of ``org``; TaskError otherwise."""
    user: User | None = get_user_model().objects.filter(username=login).first()
    if user is None:
        raise TaskError(f"{login!r} has never signed in to Foundry")
    if not Membership.objects.filter(user_id=user.pk, org=org).exists():
        raise TaskError(f"{login!r} is not a member of organization {org!r}")
    return user


def initialize_from_index(org: str, task_id: str) -> dict[str, Any]:
    """The record of a virtual task, from the organization's task index and
    summary (idempotent: an existing record is returned as is)."""
    existing = Task.objects.filter(org=org, task_id=task_id).first()
    if existing is not None:
        return describe(existing)
    entry = TaskIndexEntry.objects.filter(org=org, task_id=task_id).first()
    if entry is None:
        raise TaskError(f"task {task_id!r} is not in the task index of organization {org!r}")
    summary = TaskSummary.objects.filter(org=org, task_id=task_id).first()
    repo = GitHubRepository.objects.filter(org=org, github_id=entry.repo_id).first()
    task = Task.objects.create(
        org=org, task_id=task_id, repo_id=entry.repo_id,
        repo_full_name=repo.full_name if repo else entry.head_repo_full_name,
        branch=entry.branch, base_branch=repo.default_branch if repo else "",
        title=summary.title if summary else entry.branch, origin=TaskOrigin.PULL_REQUEST,
        head_repo_full_name=entry.head_repo_full_name,
        state=TaskState.IDLE,
        archived=entry.archived,
        archived_reason=summary.archived_reason if summary else "",
        pr_number=entry.pr_number, pr_state=summary.pr_state if summary else "",
        pr_url=summary.pr_url if summary else "",
    )
    return describe(task)
