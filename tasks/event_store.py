"""The session event store: append in order, insert-or-ignore.

Promises:

- Every event of a session gets the next sequence number (``seq``) while
  the session's row is locked by an UPDATE (a row lock on PostgreSQL,
  SQLite's write lock there), so numbers are gapless and follow commit
  order: a reader that saw N and asks for what follows N misses nothing.
- An agent envelope is stored once per (session, event index): a batch
  seen again after a reconnect stores only what is new, and the database's
  unique constraint makes even a racing second writer a no-op, never a
  crash.
- What was stored is published to the session's Channels group after the
  commit (never an event that was rolled back), with its ``seq``.

Callers: the stream consumer (agent envelopes) and the task actor's
commands (a person's message, a permission answered, errors), inside the
caller's transaction when there is one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from foundry.live import live_sender, session_group
from tasks.session_models import EventSource, Session, SessionEvent

Publisher = Callable[[str, str, dict[str, Any]], None]


def kind_of(envelope: dict[str, Any]) -> str:
    """What an ACP envelope is, as stored (small pure dispatch)."""
    method = envelope.get("method")
    if method is None:
        return "response"
    if method == "session/update":
        update = (envelope.get("params") or {}).get("update") or {}
        return f"session_update.{update.get('sessionUpdate', 'unknown')}"
    if method == "session/request_permission":
        return "permission_request"
    return f"agent_request.{method}" if "id" in envelope else f"notification.{method}"


def live_message(session: Session, event: SessionEvent) -> dict[str, Any]:
    return {
        "session_id": session.session_id, "seq": event.seq, "kind": event.kind,
        "source": event.source, "data": event.data, "at": event.at.isoformat(),
        # Wall clock of the store, for the latency figure of bench_sessions.
        "stored_at": time.time(),
    }


def _lock(session_pk: int) -> Session:
    """Take the session's row lock with a write first (SQLite's transactions
    begin at their first write: a read first would not hold the lock)."""
    Session.objects.filter(pk=session_pk).update(updated_at=timezone.now())
    return Session.objects.get(pk=session_pk)


def append_agent_events(
    session_pk: int, index_base: int, envelopes: list[tuple[int, dict[str, Any]]],
    *, publish: Publisher | None = None,
) -> list[SessionEvent]:
    """Store envelopes read from the ACP stream (``(stream index, envelope)``,
    stream indexes shifted by ``index_base``); the ones that were new."""
    with transaction.atomic():
        session = _lock(session_pk)
        wanted = {index_base + index: envelope for index, envelope in envelopes}
        seen = set(
            SessionEvent.objects.filter(session_id=session_pk, event_index__in=list(wanted))
            .values_list("event_index", flat=True)
        )
        rows = []
        seq = session.last_seq
        for event_index in sorted(wanted):
            if event_index in seen:
                continue  # stored before (a reconnect's replay, or another reader)
            seq += 1
            envelope = wanted[event_index]
            rows.append(SessionEvent(
                session_id=session_pk, seq=seq, event_index=event_index,
                source=EventSource.AGENT, kind=kind_of(envelope), data=envelope,
            ))
        if not rows:
            return []
        SessionEvent.objects.bulk_create(rows, ignore_conflicts=True)
        Session.objects.filter(pk=session_pk).update(
            last_seq=seq, last_event_index=max(session.last_event_index, *wanted)
        )
        _publish(session, rows, publish)
        return rows


def append_foundry_event(
    session_pk: int, kind: str, data: dict[str, Any], *, publish: Publisher | None = None
) -> SessionEvent:
    """Record one of Foundry's own events (a message, an answer, an error)."""
    with transaction.atomic():
        session = _lock(session_pk)
        event = SessionEvent.objects.create(
            session_id=session_pk, seq=session.last_seq + 1, source=EventSource.FOUNDRY,
            kind=kind, data=data,
        )
        Session.objects.filter(pk=session_pk).update(last_seq=F("last_seq") + 1)
        _publish(session, [event], publish)
        return event


def _publish(session: Session, events: list[SessionEvent], publish: Publisher | None) -> None:
    group = session_group(session.org, session.task_key, session.session_id)

    def send_all() -> None:
        for event in events:
            (publish or live_sender().send)(group, "session.event",
                                            live_message(session, event))

    transaction.on_commit(send_all)

