"""The event store alone: sequence numbers and insert-or-ignore (PostgreSQL
and SQLite, real threads racing)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from tasks.event_store import append_agent_events, append_foundry_event, kind_of
from tasks.models import Task
from tasks.session_models import Session, SessionEvent


def make_session() -> Session:
    record = Task.objects.create(org="acme", task_id="t1", repo_id=1, repo_full_name="acme/r",
                                 branch="main", title="T")
    return Session.objects.create(task=record, org="acme", task_key="t1", session_id="s1")


def chunk(text: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "session/update", "params": {
        "sessionId": "x", "update": {"sessionUpdate": "agent_message_chunk",
                                     "content": {"type": "text", "text": text}}}}


@pytest.mark.django_db
def test_a_duplicate_event_is_ignored() -> None:
    """An envelope stored again (a reconnect's replay) is ignored, never a
    crash; new ones in the same batch are stored; sequence numbers stay
    gapless across agent envelopes and Foundry's own records."""
    session = make_session()
    first = append_agent_events(session.pk, 0, [(1, chunk("a")), (2, chunk("b"))])
    assert [(e.seq, e.event_index) for e in first] == [(1, 1), (2, 2)]
    again = append_agent_events(session.pk, 0, [(2, chunk("b")), (3, chunk("c"))])
    assert [(e.seq, e.event_index) for e in again] == [(3, 3)]
    assert append_agent_events(session.pk, 0, [(1, chunk("a")), (3, chunk("c"))]) == []
    message = append_foundry_event(session.pk, "user_message", {"text": "hi"})
    assert (message.seq, message.event_index) == (4, None)
    # A new ACP server (index base 3) numbers its stream from 1 again.
    later = append_agent_events(session.pk, 3, [(1, chunk("d"))])
    assert [(e.seq, e.event_index) for e in later] == [(5, 4)]
    session.refresh_from_db()
    assert (session.last_seq, session.last_event_index) == (5, 4)
    assert [e.kind for e in SessionEvent.objects.order_by("seq")] == [
        "session_update.agent_message_chunk"] * 3 + [
        "user_message", "session_update.agent_message_chunk"]


def test_kinds_of_envelopes() -> None:
    assert kind_of(chunk("a")) == "session_update.agent_message_chunk"
    assert kind_of({"id": 0, "method": "session/request_permission"}) == "permission_request"
    assert kind_of({"id": "turn-1", "result": {"stopReason": "end_turn"}}) == "response"
    assert kind_of({"id": 3, "method": "fs/read_text_file"}) == "agent_request.fs/read_text_file"
    assert kind_of({"method": "_x/note"}) == "notification._x/note"


@pytest.mark.django_db(transaction=True)
def test_two_readers_storing_the_same_stream_at_once() -> None:
    """Two consumers read the same stream (a restart overlapping the old
    one): each event is stored once, numbers gapless, nobody crashes."""
    session = make_session()
    errors: list[BaseException] = []

    def read_all() -> None:
        try:
            for index in range(1, 41):
                append_agent_events(session.pk, 0, [(index, chunk(str(index)))])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=read_all) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = list(SessionEvent.objects.order_by("seq").values_list("seq", "event_index"))
    assert rows == [(i, i) for i in range(1, 41)]
