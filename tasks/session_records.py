"""Writes of the session commands, each run inside one of their steps.

Every write that touches a session's turn takes the session's row lock
first (an UPDATE, see ``event_store``) and saves only the fields it owns:
``last_seq`` and ``last_event_index`` belong to the event store, and a
whole-row save from a copy read earlier would move them back. Every change
derives the task's state from its sessions and is published to the task's
Channels group after commit.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from foundry.live import publish_on_commit, task_group
from tasks import event_store, records
from tasks.models import Task, TaskState
from tasks.session_agent import OpenedSession
from tasks.session_models import Session, SessionStatus
from tasks.session_schemas import SendMessageIn

STREAM_CONSUMER_GROUP = "stream_consumer"
TURN_FIELDS = ["turns", "turn_request_id", "status", "error", "queued_messages", "updated_at"]


class SessionError(Exception):
    """A session command that cannot be done, saying why."""


def session_row(org: str, session_id: str) -> Session:
    found = Session.objects.filter(org=org, session_id=session_id).first()
    if found is None:
        raise SessionError(f"no session {session_id!r} in organization {org!r}")
    return found


def describe(session: Session) -> dict[str, Any]:
    return {
        "session_id": session.session_id, "title": session.title, "agent": session.agent,
        "model": session.model, "status": session.status, "error": session.error,
        "turns": session.turns, "last_seq": session.last_seq,
        "queued": [{"id": m["id"], "text": m["text"]} for m in session.queued_messages],
    }


def publish_changed(session: Session) -> None:
    """Derive the task's state from its sessions, publish both."""
    statuses = set(
        Session.objects.filter(task_id=session.task_id)
        .exclude(status=SessionStatus.CLOSED).values_list("status", flat=True)
    )
    state = (
        TaskState.RUNNING if SessionStatus.RUNNING in statuses
        else TaskState.ERROR if SessionStatus.ERROR in statuses
        else TaskState.IDLE
    )
    row = Task.objects.filter(pk=session.task_id).exclude(state=TaskState.ARCHIVED).first()
    if row is not None and row.state != state:
        # A new state reaches the organization's summary (the sidebar's
        # status dot), in the same transaction as the change.
        row.state = state
        records.save_and_push(row)
    elif row is not None:
        Task.objects.filter(pk=row.pk).update(updated_at=timezone.now())
    publish_on_commit(
        task_group(session.org, session.task_key), "task.session_changed",
        {"task_state": state, "session": describe(session)},
    )


def wake_stream_consumer(session: Session) -> None:
    publish_on_commit(STREAM_CONSUMER_GROUP, "session.turn_started",
                      {"session_pk": session.pk})


def record_opened(session_pk: int, agent: str,
                   opened: OpenedSession) -> dict[str, Any]:
    with transaction.atomic():
        Session.objects.filter(pk=session_pk).update(updated_at=timezone.now())  # lock
        session = Session.objects.get(pk=session_pk)
        session.agent = agent
        session.acp_server_id = opened.server_id
        session.acp_session_id = opened.acp_session_id
        session.acp_generation = opened.generation
        session.server_epoch = opened.server_epoch
        # The new server's stream numbers from 1: continue after what is stored.
        session.index_base = session.last_event_index
        if session.status in (SessionStatus.PENDING_PROVISION,
                              SessionStatus.PENDING_SESSION_CREATE):
            session.status = SessionStatus.READY
        session.save(update_fields=[
            "agent", "acp_server_id", "acp_session_id", "acp_generation", "server_epoch",
            "index_base", "status", "updated_at",
        ])
        publish_changed(session)
        return describe(session)


def set_status(org: str, session_id: str, status: str, error: str = "") -> dict[str, Any]:
    session = session_row(org, session_id)
    session.status = status
    session.error = error
    session.updated_at = timezone.now()
    session.save(update_fields=["status", "error", "updated_at"])
    if error:
        event_store.append_foundry_event(session.pk, "error", {"message": error})
    publish_changed(session)
    return describe(session)


def start_turn(session: Session, message: dict[str, Any]) -> dict[str, Any]:
    """Record the message as sent and the session as running (the caller
    holds the session's row)."""
    session.turns += 1
    session.turn_request_id = f"turn-{session.session_id}-{session.turns}"
    session.status = SessionStatus.RUNNING
    session.error = ""
    session.updated_at = timezone.now()
    session.save(update_fields=TURN_FIELDS)
    event_store.append_foundry_event(session.pk, "user_message", {
        "message_id": message["id"], "text": message["text"], "user_id": message.get("user_id"),
        "request_id": session.turn_request_id,
    })
    publish_changed(session)
    wake_stream_consumer(session)
    return {"queued": False, "message_id": message["id"], "request_id": session.turn_request_id,
            "text": message["text"]}


def record_message(org: str, session_id: str, payload: SendMessageIn) -> dict[str, Any]:
    with transaction.atomic():
        pk = session_row(org, session_id).pk
        Session.objects.filter(pk=pk).update(updated_at=timezone.now())  # lock
        session = Session.objects.get(pk=pk)
        if session.status in (SessionStatus.CLOSED, SessionStatus.PENDING_PROVISION,
                              SessionStatus.PENDING_SESSION_CREATE):
            raise SessionError(f"session {session_id} is {session.status}: it takes no message")
        message = {"id": payload.message_id or uuid.uuid4().hex[:12], "text": payload.text,
                   "user_id": payload.as_user, "at": timezone.now().isoformat()}
        if payload.as_user is not None:
            # KEEP 11: whoever sends a message becomes the task's owner.
            Task.objects.filter(pk=session.task_id).update(owner_id=payload.as_user)
        if session.status == SessionStatus.RUNNING:
            session.queued_messages = [*session.queued_messages, message]
            session.save(update_fields=["queued_messages"])
            publish_changed(session)
            return {"queued": True, "message_id": message["id"]}
        return start_turn(session, message)


def finish_turn(org: str, session_id: str, request_id: str, stop_reason: str,
            error: str) -> dict[str, Any]:
    with transaction.atomic():
        pk = session_row(org, session_id).pk
        Session.objects.filter(pk=pk).update(updated_at=timezone.now())  # lock
        session = Session.objects.get(pk=pk)
        if not request_id or session.turn_request_id != request_id:
            return {"ignored": True, "next": None}  # told twice, or an earlier turn
        session.turn_request_id = ""
        session.status = (
            SessionStatus.CLOSED if session.closed_at
            else SessionStatus.ERROR if error else SessionStatus.IDLE
        )
        session.error = error
        if error:
            event_store.append_foundry_event(session.pk, "error", {
                "message": error, "request_id": request_id,
            })
        event_store.append_foundry_event(session.pk, "turn_finished", {
            "request_id": request_id, "stop_reason": stop_reason, "error": error,
        })
        if session.queued_messages and session.status != SessionStatus.CLOSED:
            message, *rest = session.queued_messages
            session.queued_messages = rest
            return {"ignored": False, "next": start_turn(session, message)}
        session.save(update_fields=TURN_FIELDS)
        publish_changed(session)
        return {"ignored": False, "next": None}
