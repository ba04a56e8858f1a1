"""Tasks pushing up to the organization: a new task claims its branch, and a
materialized task's every change updates its summary (so the sidebar never
reads a task actor).

Bodies of the organization actor's steps (``orgs/commands.py``); only that
actor writes the index and the summaries. Claims run one at a time (the
organization's commands are serial), so "a branch belongs to at most one
live task" is decided here without a race, and the database's partial
unique constraint stands behind it.
"""

from __future__ import annotations

from typing import Any

from django.db.models import F
from django.utils import timezone

from github_data.models import GitHubBranch
from orgs import task_index
from orgs.models import TaskIndexEntry, TaskStatus, TaskSummary
from orgs.schemas import RegisterTaskIn, TaskUpdateIn


def branch_taken(org: str, repo_id: int, branch: str) -> str:
    """Why ``branch`` of ``repo_id`` cannot be a new task's, or ""."""
    live = TaskIndexEntry.objects.filter(
        org=org, repo_id=repo_id, branch=branch, archived=False, head_repo_id=F("repo_id")
    ).values_list("task_id", flat=True).first()
    if live is not None:
        return f"branch {branch!r} belongs to task {live!r}"
    if GitHubBranch.objects.filter(
        org=org, repository__github_id=repo_id, name=branch
    ).exists():
        return f"branch {branch!r} already exists on GitHub"
    return ""


def register_task(org: str, new: RegisterTaskIn) -> dict[str, Any]:
    """The new task's index entry (owning its branch) and summary; or
    ``claimed: False`` with the reason when the branch is taken."""
    existing = TaskIndexEntry.objects.filter(org=org, task_id=new.task_id).first()
    if existing is not None:
        # A replayed claim of this very task (a worker died after it).
        claimed = existing.branch == new.branch
        return {"claimed": claimed, "reason": "" if claimed else "task id in use"}
    reason = branch_taken(org, new.repo_id, new.branch)
    if reason:
        return {"claimed": False, "reason": reason}
    TaskIndexEntry.objects.create(
        org=org, task_id=new.task_id, repo_id=new.repo_id, branch=new.branch,
        head_repo_id=new.repo_id, head_repo_full_name=new.repo_full_name,
    )
    owners = task_index.assign_owners(org, [(new.repo_id, new.branch)])
    TaskSummary.objects.create(
        org=org, task_id=new.task_id, repo_id=new.repo_id, repo_name=new.repo_name,
        title=new.title, branch=new.branch, head_repo_id=new.repo_id,
        head_repo_full_name=new.repo_full_name, owner_login=new.owner_login,
        owner_avatar_url=new.owner_avatar_url, status=TaskStatus.IDLE,
    )
    return {"claimed": new.task_id in owners, "reason": ""}


def update_task(org: str, update: TaskUpdateIn) -> list[str]:
    """The task's summary and index entry as the task says; returns the
    tasks whose row changed (a released branch may get a new owner)."""
    entry = TaskIndexEntry.objects.filter(org=org, task_id=update.task_id).first()
    if entry is None:
        return []  # a task always comes from the index; nothing to update
    changed = [update.task_id]
    if update.pr_number is not None and entry.pr_number is None:
        entry.pr_number = update.pr_number
        entry.save(update_fields=["pr_number"])
    key = (entry.repo_id, entry.branch)
    if update.archived and not entry.archived:
        entry.archived, entry.owns_branch = True, False
        entry.save(update_fields=["archived", "owns_branch"])
        changed += task_index.assign_owners(org, [key])
    elif not update.archived and entry.archived:
        entry.archived = False
        entry.save(update_fields=["archived"])
        changed += task_index.assign_owners(org, [key])  # back, unless taken meanwhile
    fields: dict[str, Any] = {
        "title": update.title,
        "status": TaskStatus.ARCHIVED if update.archived else update.status,
        "archived_reason": update.archived_reason if update.archived else "",
        "owner_login": update.owner_login,
        "owner_avatar_url": update.owner_avatar_url,
        "lines_added": update.lines_added,
        "lines_removed": update.lines_removed,
        "updated_at": update.updated_at or timezone.now(),
    }
    if update.pr_number is not None:
        fields.update(pr_number=update.pr_number, pr_state=update.pr_state,
                      pr_url=update.pr_url)
    TaskSummary.objects.filter(org=org, task_id=update.task_id).update(**fields)
    return changed
