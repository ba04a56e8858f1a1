"""Telling a person about their tasks, fire and forget: what tasks,
sessions and the API call where things happen. A send is one insert (in a
command's step it commits with the step, so a replayed step never sends
twice); nothing here waits for the user actor.

- ``bump_task(user_id, org, task_id, reason)``: the task tops the feed.
- ``notify_owner(org, task_id, kind, event_key, session_id="", message="")``:
  a notification for the task's owner (none when the App owns it), which
  also bumps the task.
"""

from __future__ import annotations

from users.actor import user_handle


def bump_task(user_id: int, org: str, task_id: str, reason: str) -> None:
    user_handle(user_id).send("user.command.bump_task", {
        "org": org, "task_id": task_id, "reason": reason[:40],
    })


def notify_owner(org: str, task_id: str, kind: str, event_key: str, *,
                 session_id: str = "", message: str = "") -> bool:
    """True when the task has an owner to notify."""
    from tasks.models import Task

    owner_id = (Task.objects.filter(org=org, task_id=task_id)
                .values_list("owner_id", flat=True).first())
    if owner_id is None:
        return False
    user_handle(owner_id).send("user.command.notify", {
        "org": org, "task_id": task_id, "session_id": session_id, "kind": kind,
        "message": message[:500], "event_key": f"{org}/{task_id}/{event_key}"[:200],
    })
    return True
