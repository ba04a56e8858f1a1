"""Sessions as plain functions, for views, the ``task`` command line and tests.

- ``create_session(org, task_id, agent=None, model=None, as_user=None,
  title="") -> session_id``: ensures the task's sandbox and opens a session
  with an agent of the sandbox's own list (the demo agent by default where
  installed). Waits for the command (provisioning included).
- ``send_message(org, task_id, session_id, text, as_user=None) -> dict``:
  ``{"queued": False, "request_id", "message_id"}`` once the turn started,
  or ``{"queued": True, "message_id"}`` when a turn was running. Returns
  without waiting for the agent; ``as_user`` (a user id) becomes the owner.
- ``stop(org, task_id, session_id)``, ``close_session(...)``,
  ``rename_session(org, task_id, session_id, title)``.
- ``answer_permission(org, task_id, session_id, request_id, option_id,
  as_user=None)``: ``option_id`` one of the request's options ("allow",
  "deny" for the demo agent), or None to answer "cancelled".
- ``transcript_page(org, task_id, session_id, after_seq=0, limit=200) ->
  TranscriptPage`` and ``events_page(...)`` (raw events), by sequence number.
- ``pending_permissions(org, task_id, session_id) -> list[dict]``.
- ``follow(org, task_id, session_id, after_seq=0) -> Iterator[TranscriptItem]``:
  the items of events as they are stored, until the session is no longer
  running and everything stored was yielded (for ``task send --follow``).

Every function raises ``SessionNotFound`` for an unknown task or session,
and the command's error (``CommandFailed`` naming it) when one fails. The
task's actor handle comes from ``task_handle``, the one point where this
module touches materialization.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

from foundry.actors.handles import ActorHandle
from tasks.actor import task
from tasks.models import Task
from tasks.session_models import Session, SessionStatus
from tasks.transcript import (
    PAGE_SIZE,
    TranscriptItem,
    TranscriptPage,
    permission_states,
)
from tasks.transcript import events_page as _events_page
from tasks.transcript import transcript_page as _transcript_page

COMMAND_TIMEOUT = 30.0
CREATE_TIMEOUT = 660.0


class SessionNotFound(LookupError):
    pass


def task_handle(org: str, task_id: str) -> ActorHandle:
    """The task's actor; a virtual task of the organization's index is
    materialized here (lazily: a session is a person acting on it)."""
    if Task.objects.filter(org=org, task_id=task_id).exists():
        return task.get_or_create(org=org, task=task_id, create_with_input={
            "org": org, "task": task_id,
        })
    from orgs.reads import TaskNotFound
    from tasks.materialize import open_task

    try:
        return open_task(org, task_id)
    except TaskNotFound as exc:
        raise SessionNotFound(f"no task {task_id!r} in organization {org!r}") from exc


def get_session(org: str, task_id: str, session_id: str) -> Session:
    found = Session.objects.filter(org=org, task_key=task_id, session_id=session_id).first()
    if found is None:
        raise SessionNotFound(f"no session {session_id!r} in task {org}/{task_id}")
    return found


def create_session(
    org: str, task_id: str, agent: str | None = None, model: str | None = None,
    as_user: int | None = None, title: str = "", *, timeout: float = CREATE_TIMEOUT,
) -> str:
    session_id = uuid.uuid4().hex[:12]
    task_handle(org, task_id).send("task.command.create_session", {
        "session_id": session_id, "agent": agent, "model": model, "as_user": as_user,
        "title": title,
    }, wait=True, timeout=timeout)
    return session_id


def send_message(org: str, task_id: str, session_id: str, text: str,
                 as_user: int | None = None) -> dict[str, Any]:
    get_session(org, task_id, session_id)
    return dict(task_handle(org, task_id).send("task.command.send_message", {
        "session_id": session_id, "text": text, "as_user": as_user,
        "message_id": uuid.uuid4().hex[:12],
    }, wait=True, timeout=COMMAND_TIMEOUT))


def _session_command(name: str, org: str, task_id: str, session_id: str,
                     **extra: Any) -> dict[str, Any]:
    get_session(org, task_id, session_id)
    return dict(task_handle(org, task_id).send(
        name, {"session_id": session_id, **extra}, wait=True, timeout=COMMAND_TIMEOUT
    ))


def stop(org: str, task_id: str, session_id: str) -> dict[str, Any]:
    return _session_command("task.command.stop", org, task_id, session_id)


def close_session(org: str, task_id: str, session_id: str) -> dict[str, Any]:
    return _session_command("task.command.close_session", org, task_id, session_id)


def rename_session(org: str, task_id: str, session_id: str, title: str) -> dict[str, Any]:
    return _session_command("task.command.rename_session", org, task_id, session_id,
                            title=title)


def answer_permission(org: str, task_id: str, session_id: str, request_id: int | str,
                      option_id: str | None, as_user: int | None = None) -> dict[str, Any]:
    return _session_command("task.command.answer_permission", org, task_id, session_id,
                            request_id=request_id, option_id=option_id, as_user=as_user)


def pending_permissions(org: str, task_id: str, session_id: str) -> list[dict[str, Any]]:
    session = get_session(org, task_id, session_id)
    return [
        state for state in permission_states(session).values() if state["status"] == "pending"
    ]


def transcript_page(org: str, task_id: str, session_id: str, after_seq: int = 0,
                    limit: int = PAGE_SIZE) -> TranscriptPage:
    return _transcript_page(get_session(org, task_id, session_id), after_seq=after_seq,
                            limit=limit)


def events_page(org: str, task_id: str, session_id: str, after_seq: int = 0,
                limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
    return _events_page(get_session(org, task_id, session_id), after_seq=after_seq,
                        limit=limit)


def follow(org: str, task_id: str, session_id: str, after_seq: int = 0, *,
           poll_seconds: float = 0.1, timeout: float | None = None) -> Iterator[TranscriptItem]:
    """Items as their events are stored (each event's item once: a message
    streams as several ``agent_message`` items, one per stored chunk batch),
    until the session stops running and all its events were read."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        session = get_session(org, task_id, session_id)
        page = _transcript_page(session, after_seq=after_seq)
        yield from page.items
        after_seq = page.last_seq
        if page.has_more:
            continue
        if session.status != SessionStatus.RUNNING and after_seq >= session.last_seq:
            return
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"session {session_id} still running after {timeout}s")
        time.sleep(poll_seconds)
