"""The person's side of tasks over the API, under ``/api/v1/me/``: the task
feed, notifications with an unread count, unread events and the draft per
session, marking read. Reads are plain queries; changes go through the user
actor (``users/feed_commands.py``) and wait for it briefly."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Schema

from foundry.actors.errors import CommandTimeout
from foundry.api import ERRORS, ApiError, person
from tasks.api_access import member_session, member_task
from users.actor import user_handle
from users.api import router
from users.feed_models import Notification
from users.feed_reads import draft_of, notifications, sessions_unread, task_feed

COMMAND_WAIT_SECONDS = 10.0


def _run(user_id: int, name: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        return dict(user_handle(user_id).send(name, body, wait=True,
                                              timeout=COMMAND_WAIT_SECONDS))
    except CommandTimeout as exc:
        raise ApiError(409, "not_ready", "the change was not recorded in time (is a worker"
                       " of the user queue running?)") from exc


class LimitQuery(Schema):
    limit: int = Field(50, ge=1, le=200)


class FeedItemOut(Schema):
    org: str
    task_id: str
    title: str
    status: str
    branch: str
    pr_number: int | None
    reason: str
    at: datetime


@router.get("/me/feed", response={200: list[FeedItemOut], **ERRORS},
            summary="My tasks, what last drew my attention first")
def feed(request: HttpRequest, q: Query[LimitQuery]) -> list[FeedItemOut]:
    return [FeedItemOut(**vars(item)) for item in task_feed(person(request).pk, limit=q.limit)]


class NotificationsQuery(LimitQuery):
    unread: bool = False


class NotificationOut(Schema):
    id: int
    org: str
    task_id: str
    session_id: str
    kind: str
    message: str
    created_at: datetime
    read: bool


class NotificationsOut(Schema):
    unread_count: int
    notifications: list[NotificationOut]


@router.get("/me/notifications", response={200: NotificationsOut, **ERRORS},
            summary="My notifications, newest first, with the unread count")
def my_notifications(request: HttpRequest, q: Query[NotificationsQuery]) -> NotificationsOut:
    found = notifications(person(request).pk, unread_only=q.unread, limit=q.limit)
    return NotificationsOut(unread_count=found.unread_count,
                            notifications=[NotificationOut(**vars(n)) for n in found.items])


class MarkNotificationsIn(Schema):
    ids: list[int] = Field(default_factory=list, max_length=500)
    everything: bool = False


class MarkedOut(Schema):
    marked: int
    unread: int
    last_read_seq: int | None = None


@router.post("/me/notifications/read", response={200: MarkedOut, **ERRORS},
             summary="Mark notifications read (these ids, or everything)")
def mark_notifications(request: HttpRequest, body: MarkNotificationsIn) -> MarkedOut:
    user = person(request)
    unread = Notification.objects.filter(user_id=user.pk, read_at__isnull=True)
    if not body.everything:
        unread = unread.filter(pk__in=body.ids)
    if not unread.exists():
        return MarkedOut(marked=0, unread=Notification.objects.filter(
            user_id=user.pk, read_at__isnull=True).count())
    return MarkedOut(**_run(user.pk, "user.command.mark_read",
                            {"ids": body.ids, "everything": body.everything}))


class SessionUnreadOut(Schema):
    session_id: str
    last_seq: int
    last_read_seq: int
    unread: int
    draft: str


ME_SESSIONS = "/me/orgs/{org}/tasks/{task_id}/sessions"


@router.get(ME_SESSIONS, response={200: list[SessionUnreadOut], **ERRORS},
            summary="A task's sessions: unread events and my draft in each")
def my_sessions(request: HttpRequest, org: str, task_id: str) -> list[SessionUnreadOut]:
    member_task(request, org, task_id)
    return [SessionUnreadOut(**vars(s))
            for s in sessions_unread(person(request).pk, org, task_id)]


class ReadIn(Schema):
    up_to_seq: int | None = Field(None, ge=0, le=2**31 - 1,
                                  description="default: the session's last event")


@router.post(ME_SESSIONS + "/{session_id}/read", response={200: MarkedOut, **ERRORS},
             summary="Mark a session read (and its task's notifications)")
def mark_session_read(request: HttpRequest, org: str, task_id: str, session_id: str,
                      body: ReadIn) -> MarkedOut:
    member_session(request, org, task_id, session_id)
    return MarkedOut(**_run(person(request).pk, "user.command.mark_read", {
        "org": org, "task_id": task_id, "session_id": session_id, "up_to_seq": body.up_to_seq,
    }))


class DraftOut(Schema):
    session_id: str
    draft: str


class DraftIn(Schema):
    text: str = Field("", max_length=100_000)


@router.get(ME_SESSIONS + "/{session_id}/draft", response={200: DraftOut, **ERRORS},
            summary="My draft message in a session")
def get_draft(request: HttpRequest, org: str, task_id: str, session_id: str) -> DraftOut:
    member_session(request, org, task_id, session_id)
    return DraftOut(session_id=session_id, draft=draft_of(person(request).pk, org, session_id))


@router.put(ME_SESSIONS + "/{session_id}/draft", response={200: DraftOut, **ERRORS},
            summary="Keep my draft message in a session")
def put_draft(request: HttpRequest, org: str, task_id: str, session_id: str,
              body: DraftIn) -> DraftOut:
    member_session(request, org, task_id, session_id)
    saved = _run(person(request).pk, "user.command.save_draft", {
        "org": org, "task_id": task_id, "session_id": session_id, "text": body.text,
    })
    return DraftOut(session_id=session_id, draft=saved["draft"])
