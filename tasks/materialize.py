"""Where task actors come into being.

A virtual task (an open pull request in the organization's task index) gets
an actor only when a person acts on it: ``open_task`` is the one
get-or-create point, called by every person's action (open, session,
message, rename, archive, push…). The new actor initializes itself from the
index entry (``task.command.initialize``, sent ahead of the action, so it
runs first: one instance runs its commands in order). A task id not in the
index is ``TaskNotFound``: nothing is created. Syncs and webhooks never
call this module.

``create_task`` is the explicit creation path of a task from a prompt.
"""

from __future__ import annotations

from typing import Any

from foundry.actors import ActorNotFound
from foundry.actors.handles import ActorHandle
from github_data.models import GitHubRepository
from orgs.actor import organization
from orgs.models import TaskIndexEntry
from orgs.reads import TaskNotFound, get_task_index_entry
from tasks.actor import task
from tasks.commands import new_task_id
from tasks.errors import TaskError
from tasks.models import Task

CREATE_TIMEOUT_SECONDS = 60.0


def open_task(org: str, task_id: str, *, wait: bool = False,
              timeout: float = CREATE_TIMEOUT_SECONDS) -> ActorHandle:
    """The task's actor, created (and initialized from the organization's
    task index) on first use; ``TaskNotFound`` for an id not in the index.
    With ``wait``, returns once the record is written (for a read right
    after); without, the caller's next command runs after the initialize."""
    try:
        org_handle = organization.get(org=org)
    except ActorNotFound:
        raise TaskNotFound(org, task_id) from None
    entry = get_task_index_entry(org_handle, task_id)
    handle = task.get_or_create(
        org=org, task=task_id,
        create_with_input={"org": org, "task": task_id, "repo_id": entry.repo_id},
    )
    if not Task.objects.filter(org=org, task_id=task_id).exists():
        # Idempotent: two first uses at once both send it; the second finds the record.
        handle.send("task.command.initialize", wait=wait, timeout=timeout if wait else None)
    return handle


def create_task(
    org: str, repo_full_name: str, prompt: str, *, branch_name: str = "",
    owner_login: str = "", timeout: float = CREATE_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """A new task from a prompt; returns its record once it is written.
    An unknown repository or an empty prompt is refused before any actor
    exists (the command checks them again)."""
    if not GitHubRepository.objects.filter(org=org, full_name=repo_full_name).exists():
        raise TaskError(f"organization {org!r} has no repository {repo_full_name!r}")
    if not prompt.strip():
        raise TaskError("the prompt is empty")
    task_id = new_task_id()
    handle = task.create(org=org, task=task_id, input={"org": org, "task": task_id})
    result: dict[str, Any] = handle.send("task.command.create", {
        "prompt": prompt, "repo_full_name": repo_full_name, "branch_name": branch_name,
        "owner_login": owner_login,
    }, wait=True, timeout=timeout)
    return result


def resolve_task(reference: str) -> tuple[str, str]:
    """``ORG/TASK``, or a bare task id found in exactly one organization's
    task index; ``TaskNotFound`` / ``LookupError`` otherwise."""
    if "/" in reference:
        org, task_id = reference.split("/", 1)
        if not TaskIndexEntry.objects.filter(org=org, task_id=task_id).exists():
            raise TaskNotFound(org, task_id)
        return org, task_id
    orgs = list(TaskIndexEntry.objects.filter(task_id=reference)
                .values_list("org", flat=True).distinct()[:2])
    if not orgs:
        raise LookupError(f"no organization has a task {reference!r}")
    if len(orgs) > 1:
        raise LookupError(f"several organizations have a task {reference!r}: name it ORG/TASK")
    return orgs[0], reference
