"""What every task endpoint of the API does first: the person is a member
of the organization and the task exists there (another organization's task
is 404, never a hint), and, for an action, its actor (a virtual task is
materialized on this first action, as the pages do)."""

from __future__ import annotations

from django.http import HttpRequest

from foundry.actors.errors import CommandTimeout
from foundry.actors.handles import ActorHandle
from foundry.api import ApiError, not_found, person
from orgs.access import require_member
from orgs.models import TaskIndexEntry
from orgs.reads import TaskNotFound
from tasks.actor import task
from tasks.materialize import open_task
from tasks.models import Task
from tasks.session_models import Session

# A read right after the first action waits for the record this long.
OPEN_WAIT_SECONDS = 20.0


def member_task(request: HttpRequest, org: str, task_id: str) -> None:
    """404 unless the person is a member of ``org`` and it has the task."""
    require_member(person(request), org)
    known = (Task.objects.filter(org=org, task_id=task_id).exists()
             or TaskIndexEntry.objects.filter(org=org, task_id=task_id).exists())
    if not known:
        raise not_found(f"task {task_id}")


def acted_on(request: HttpRequest, org: str, task_id: str, *, ready: bool = False
             ) -> ActorHandle:
    """The task's actor, created on this first action; with ``ready``, once
    its record is written (for a read that follows)."""
    member_task(request, org, task_id)
    if Task.objects.filter(org=org, task_id=task_id).exists():
        return task.get_or_create(org=org, task=task_id,
                                  create_with_input={"org": org, "task": task_id})
    try:
        return open_task(org, task_id, wait=ready, timeout=OPEN_WAIT_SECONDS)
    except TaskNotFound as exc:
        raise not_found(f"task {task_id}") from exc
    except CommandTimeout as exc:
        raise ApiError(409, "not_ready", f"task {task_id} is still being opened (is a worker"
                       " running?); retry shortly") from exc


def member_session(request: HttpRequest, org: str, task_id: str, session_id: str) -> Session:
    member_task(request, org, task_id)
    found = Session.objects.filter(org=org, task_key=task_id, session_id=session_id).first()
    if found is None:
        raise not_found(f"session {session_id}")
    return found
