"""The person's side of tasks: ``user.command.bump_task``, ``notify``,
``mark_read`` and ``save_draft``. Each is one step that writes the user
actor's own rows and publishes to the person's group after the commit.

Tasks and sessions send ``notify`` and ``bump_task`` fire-and-forget
(``users/feed.py``): a notification never holds a task's loop. ``notify``
is idempotent per ``event_key``, so a stream consumer that reads an event
again after a restart notifies once.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from foundry.actors.context import CommandContext
from foundry.live import publish_on_commit, user_group
from tasks.session_models import Session
from users.actor import user
from users.feed_models import Notification, SessionReadState, TaskAttention
from users.schemas import BumpTaskIn, DraftIn, MarkReadIn, NotifyIn


def _user_id(ctx: CommandContext) -> int:
    return int(ctx.key_fields["user"])


def _bump(user_id: int, org: str, task_id: str, reason: str) -> None:
    TaskAttention.objects.update_or_create(
        user_id=user_id, org=org, task_id=task_id,
        defaults={"at": timezone.now(), "reason": reason},
    )
    publish_on_commit(user_group(user_id), "feed.changed",
                      {"org": org, "task_id": task_id, "reason": reason})


def _unread_count(user_id: int) -> int:
    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).count()


def _notifications_changed(user_id: int) -> None:
    publish_on_commit(user_group(user_id), "notifications.changed",
                      {"unread": _unread_count(user_id)})


@user.command("user.command.bump_task", payload=BumpTaskIn)
def bump_task(ctx: CommandContext, payload: BumpTaskIn) -> dict[str, Any]:
    """The task moves to the top of the person's feed."""
    user_id = _user_id(ctx)
    ctx.step("bump", _bump, user_id, payload.org, payload.task_id, payload.reason)
    return {"org": payload.org, "task_id": payload.task_id}


def _notify(user_id: int, payload: NotifyIn) -> dict[str, Any]:
    try:
        # A savepoint: a duplicate event leaves the step's transaction usable.
        with transaction.atomic():
            row = Notification.objects.create(
                user_id=user_id, org=payload.org, task_id=payload.task_id,
                session_id=payload.session_id, kind=payload.kind, message=payload.message,
                event_key=payload.event_key,
            )
    except IntegrityError:
        row = Notification.objects.get(user_id=user_id, event_key=payload.event_key)
        return {"id": row.pk, "created": False}
    _bump(user_id, payload.org, payload.task_id, payload.kind)
    _notifications_changed(user_id)
    return {"id": row.pk, "created": True}


@user.command("user.command.notify", payload=NotifyIn)
def notify(ctx: CommandContext, payload: NotifyIn) -> dict[str, Any]:
    return dict(ctx.step("notify", _notify, _user_id(ctx), payload))


def _mark_read(user_id: int, payload: MarkReadIn) -> dict[str, Any]:
    now = timezone.now()
    unread = Notification.objects.filter(user_id=user_id, read_at__isnull=True)
    read_to = None
    if payload.everything:
        marked = unread.update(read_at=now)
    elif payload.ids:
        marked = unread.filter(pk__in=payload.ids).update(read_at=now)
    else:
        scope = unread.filter(org=payload.org, task_id=payload.task_id)
        if payload.session_id:
            scope = scope.filter(session_id__in=[payload.session_id, ""])
            last = (Session.objects.filter(org=payload.org, session_id=payload.session_id)
                    .values_list("last_seq", flat=True).first()) or 0
            wanted = last if payload.up_to_seq is None else min(payload.up_to_seq, last)
            state, _ = SessionReadState.objects.get_or_create(
                user_id=user_id, org=payload.org, session_id=payload.session_id,
                defaults={"task_id": payload.task_id},
            )
            # Read positions only move forward (two tabs may report late).
            read_to = max(state.last_read_seq, wanted)
            SessionReadState.objects.filter(pk=state.pk).update(last_read_seq=read_to,
                                                                updated_at=now)
            publish_on_commit(user_group(user_id), "session.read", {
                "org": payload.org, "task_id": payload.task_id,
                "session_id": payload.session_id, "last_read_seq": read_to,
            })
        marked = scope.update(read_at=now)
    if marked:
        _notifications_changed(user_id)
    return {"marked": marked, "last_read_seq": read_to, "unread": _unread_count(user_id)}


@user.command("user.command.mark_read", payload=MarkReadIn)
def mark_read(ctx: CommandContext, payload: MarkReadIn) -> dict[str, Any]:
    return dict(ctx.step("mark read", _mark_read, _user_id(ctx), payload))


def _save_draft(user_id: int, payload: DraftIn) -> dict[str, Any]:
    SessionReadState.objects.update_or_create(
        user_id=user_id, org=payload.org, session_id=payload.session_id,
        defaults={"task_id": payload.task_id, "draft": payload.text,
                  "updated_at": timezone.now()},
    )
    return {"session_id": payload.session_id, "draft": payload.text}


@user.command("user.command.save_draft", payload=DraftIn)
def save_draft(ctx: CommandContext, payload: DraftIn) -> dict[str, Any]:
    """The message the person was writing in a session, kept per person."""
    return dict(ctx.step("save draft", _save_draft, _user_id(ctx), payload))
