"""What the web UI and the API read of the person's side of tasks: the feed,
notifications with an unread count, unread per session, a session's draft.
Plain queries, run in the caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from orgs.access import member_org_ids
from orgs.models import TaskSummary
from tasks.session_models import Session
from users.feed_models import Notification, SessionReadState, TaskAttention

FEED_LIMIT = 50


@dataclass(frozen=True)
class FeedItem:
    org: str
    task_id: str
    title: str
    status: str
    branch: str
    pr_number: int | None
    reason: str  # what last drew the person's attention
    at: datetime


def task_feed(user_id: int, *, limit: int = FEED_LIMIT) -> list[FeedItem]:
    """The person's tasks, what last drew their attention first; only in
    organizations they still belong to."""
    from django.contrib.auth.models import User

    orgs = member_org_ids(User.objects.get(pk=user_id))
    rows = list(TaskAttention.objects.filter(user_id=user_id, org__in=orgs)
                .order_by("-at", "-pk")[:limit])
    summaries = {
        (s.org, s.task_id): s
        for s in TaskSummary.objects.filter(org__in={r.org for r in rows},
                                            task_id__in={r.task_id for r in rows})
    }
    out = []
    for row in rows:
        s = summaries.get((row.org, row.task_id))
        out.append(FeedItem(
            org=row.org, task_id=row.task_id, title=s.title if s else "",
            status=s.status if s else "", branch=s.branch if s else "",
            pr_number=s.pr_number if s else None, reason=row.reason, at=row.at,
        ))
    return out


@dataclass(frozen=True)
class NotificationItem:
    id: int
    org: str
    task_id: str
    session_id: str
    kind: str
    message: str
    created_at: datetime
    read: bool


@dataclass(frozen=True)
class Notifications:
    unread_count: int
    items: list[NotificationItem]


def notifications(user_id: int, *, unread_only: bool = False,
                  limit: int = FEED_LIMIT) -> Notifications:
    from django.contrib.auth.models import User

    orgs = member_org_ids(User.objects.get(pk=user_id))
    mine = Notification.objects.filter(user_id=user_id, org__in=orgs)
    unread = mine.filter(read_at__isnull=True)
    rows = (unread if unread_only else mine).order_by("-created_at", "-pk")[:limit]
    return Notifications(unread_count=unread.count(), items=[
        NotificationItem(id=n.pk, org=n.org, task_id=n.task_id, session_id=n.session_id,
                         kind=n.kind, message=n.message, created_at=n.created_at,
                         read=n.read_at is not None)
        for n in rows
    ])


@dataclass(frozen=True)
class SessionUnread:
    session_id: str
    last_seq: int
    last_read_seq: int
    unread: int  # events stored since the person last read the session
    draft: str


def sessions_unread(user_id: int, org: str, task_id: str) -> list[SessionUnread]:
    states = {s.session_id: s for s in SessionReadState.objects.filter(
        user_id=user_id, org=org, task_id=task_id)}
    out = []
    for session in Session.objects.filter(org=org, task_key=task_id).order_by("created_at",
                                                                             "pk"):
        state = states.get(session.session_id)
        read_to = state.last_read_seq if state else 0
        out.append(SessionUnread(
            session_id=session.session_id, last_seq=session.last_seq, last_read_seq=read_to,
            unread=max(session.last_seq - read_to, 0), draft=state.draft if state else "",
        ))
    return out


def draft_of(user_id: int, org: str, session_id: str) -> str:
    return (SessionReadState.objects.filter(user_id=user_id, org=org, session_id=session_id)
            .values_list("draft", flat=True).first()) or ""
