"""Sessions end to end: the task actor in real workers, the local sandbox
cloned from the emulator, the real sandbox-agent with the demo agent, the
stream consumer as a real process, websockets on the real ASGI app
(PostgreSQL and SQLite, Redis channel layer)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from sandboxes.acp_client import AcpEventStream
from sandboxes.actor import sandbox
from sandboxes.process_client import ProcessClient
from tasks import sessions
from tasks.models import Task
from tasks.session_models import EventSource, Session, SessionEvent
from tests.conftest import wait_until
from tests.sessions.conftest import TaskStack

pytestmark = pytest.mark.workers

DEMO_FIRST = "Hello! I am Foundry's demo agent. "
DEMO_ALLOWED_LAST = " I added a line to README.md; git status shows it."


def ws_path(stack: TaskStack, session_id: str, after: int = 0) -> str:
    return f"/ws/o/{stack.org}/t/task-1/s/{session_id}/?after={after}"


def stored(session_id: str) -> list[SessionEvent]:
    return list(SessionEvent.objects.filter(session__session_id=session_id).order_by("seq"))


def chunks_of(events: list[Any]) -> list[str]:
    """Texts of the agent's message chunks, from stored events or ws messages."""
    out = []
    for e in events:
        kind, data = (e.kind, e.data) if isinstance(e, SessionEvent) else (e["kind"], e["data"])
        if kind == "session_update.agent_message_chunk":
            out.append(data["params"]["update"]["content"]["text"])
    return out


def agent_stream(stack: TaskStack, session: Session, request_id: str) -> list[dict[str, Any]]:
    """What the demo agent sent, read again from sandbox-agent's own buffer
    up to the response of ``request_id``."""
    handle = sandbox.get(org=stack.org, sandbox="task-1")
    envelopes = []
    with handle.read("sandbox.read.agent_client") as client:
        for event in AcpEventStream(client, session.acp_server_id):
            envelopes.append(event.envelope)
            if event.kind == "response" and event.envelope.get("id") == request_id:
                return envelopes
    raise AssertionError("the stream ended before the turn's response")


def is_turn_end(message: dict[str, Any]) -> bool:
    return bool(message["kind"] == "turn_finished")


def test_a_turn_streams_into_the_store_and_over_websockets(
    task_stack: Any, ws_clients: Any
) -> None:
    """Session → message (the send returns before the agent's first chunk
    is even stored) → chunks stored in order and pushed to two websocket
    clients alike → permission allowed → the change in git status. The
    transcript merges the chunks, shows the tool call with its result and
    the permission answered; a client reconnecting from N gets N+1 onward."""
    stack: TaskStack = task_stack()
    session_id = sessions.create_session(stack.org, "task-1", as_user=stack.user.pk)
    session = Session.objects.get(session_id=session_id)
    assert (session.status, session.agent) == ("ready", "mock")
    cookie = stack.cookie(stack.user)
    first, second = (ws_clients(ws_path(stack, session_id), cookie) for _ in range(2))
    for client in (first, second):
        assert client.next() == {"type": "caught_up", "last_seq": 0}

    sent = sessions.send_message(stack.org, "task-1", session_id, "Please improve the README",
                                 as_user=stack.user.pk)
    assert sent["queued"] is False
    assert Task.objects.get(task_id="task-1").state == "running"
    assert Task.objects.get(task_id="task-1").owner_id == stack.user.pk

    before = first.events_until(lambda m: m["kind"] == "permission_request")
    [pending] = sessions.pending_permissions(stack.org, "task-1", session_id)
    assert pending["option_ids"] == ["allow", "deny"]
    sessions.answer_permission(stack.org, "task-1", session_id, pending["request_id"], "allow",
                               as_user=stack.user.pk)
    seen_first = before + first.events_until(is_turn_end)
    seen_second = second.events_until(is_turn_end)

    events = stored(session_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    as_json = [(e.seq, e.kind) for e in events]
    assert [(m["seq"], m["kind"]) for m in seen_first] == as_json
    assert [(m["seq"], m["kind"]) for m in seen_second] == as_json
    texts = chunks_of(events)
    assert texts[0] == DEMO_FIRST and texts[-1] == DEMO_ALLOWED_LAST
    assert chunks_of(seen_first) == texts

    # Every envelope the agent sent, once, in its order.
    session.refresh_from_db()
    agent_events = [e for e in events if e.source == EventSource.AGENT]
    assert [e.event_index for e in agent_events] == list(range(1, len(agent_events) + 1))
    assert [e.data for e in agent_events] == agent_stream(stack, session, sent["request_id"])
    assert (session.status, session.turn_request_id) == ("idle", "")
    assert Task.objects.get(task_id="task-1").state == "idle"

    page = sessions.transcript_page(stack.org, "task-1", session_id)
    kinds = [i.kind for i in page.items]
    assert kinds[0] == "user_message" and page.items[0].data["text"] == "Please improve the README"
    messages = [i.data["text"] for i in page.items if i.kind == "agent_message"]
    assert messages[0].startswith(DEMO_FIRST + "I work without a model, so every answer")
    assert messages[-1] == DEMO_ALLOWED_LAST
    [tool] = [i for i in page.items if i.kind == "tool_call"]
    assert tool.data["status"] == "completed" and "README.md" in str(tool.data["content"])
    [permission] = [i for i in page.items if i.kind == "permission_request"]
    assert (permission.data["status"], permission.data["option_id"]) == ("answered", "allow")
    assert kinds[-1] == "turn_finished" and page.items[-1].data["stop_reason"] == "end_turn"
    assert "plan" in kinds and "usage" in kinds

    # Paged: two pages of 5 cover every event once.
    one = sessions.events_page(stack.org, "task-1", session_id, limit=5)
    two = sessions.events_page(stack.org, "task-1", session_id, after_seq=5, limit=5)
    assert [e["seq"] for e in one + two] == list(range(1, 11))

    with sandbox.get(org=stack.org, sandbox="task-1").read("sandbox.read.agent_client") as c:
        repo = sandbox.get(org=stack.org, sandbox="task-1").read("sandbox.read.get").repo_path
        assert ProcessClient(c).run("git", ["status", "--porcelain"], cwd=repo).stdout == (
            " M README.md\n"
        )

    late = ws_clients(ws_path(stack, session_id, after=5), cookie)
    replay = late.events_until(lambda m: m["seq"] == len(events))
    assert [m["seq"] for m in replay] == list(range(6, len(events) + 1))
    assert late.next()["type"] == "caught_up"


def test_websocket_checks_membership(task_stack: Any, ws_clients: Any) -> None:
    """Anonymous: closed with 4401; a signed-in non-member, or a session the
    organization does not have: 4404."""
    from django.contrib.auth import get_user_model

    stack: TaskStack = task_stack()
    Session.objects.create(task=stack.task, org=stack.org, task_key="task-1",
                           session_id="s1", status="idle")
    outsider = get_user_model().objects.create_user("mallory")
    anonymous = ws_clients(ws_path(stack, "s1"), None)
    assert anonymous.next() == {"type": "closed", "code": 4401}
    stranger = ws_clients(ws_path(stack, "s1"), stack.cookie(outsider))
    assert stranger.next() == {"type": "closed", "code": 4404}
    unknown = ws_clients(ws_path(stack, "nope"), stack.cookie(stack.user))
    assert unknown.next() == {"type": "closed", "code": 4404}
    member = ws_clients(ws_path(stack, "s1"), stack.cookie(stack.user))
    assert member.next() == {"type": "caught_up", "last_seq": 0}


def test_rename_and_stop_answer_at_once_during_a_long_turn(task_stack: Any) -> None:
    """During a /slow turn (15 s) a second message is queued and shown as
    queued, rename and stop each answer within 1 s; stop cancels the turn
    (stop reason ``cancelled``) and drops the queue."""
    stack: TaskStack = task_stack()
    session_id = sessions.create_session(stack.org, "task-1")
    sessions.send_message(stack.org, "task-1", session_id, "take it /slow")
    wait_until(lambda: len(chunks_of(stored(session_id))) >= 6, timeout=30,
               what="the slow turn streaming")
    queued = sessions.send_message(stack.org, "task-1", session_id, "and then this")
    assert queued["queued"] is True
    page = sessions.transcript_page(stack.org, "task-1", session_id)
    assert [q["text"] for q in page.queued] == ["and then this"]

    started = time.monotonic()
    renamed = sessions.rename_session(stack.org, "task-1", session_id, "Slow work")
    assert time.monotonic() - started < 1.0
    assert renamed["title"] == "Slow work" and renamed["status"] == "running"

    started = time.monotonic()
    stopped = sessions.stop(stack.org, "task-1", session_id)
    assert time.monotonic() - started < 1.0
    assert stopped["queued"] == []
    wait_until(lambda: Session.objects.get(session_id=session_id).status == "idle",
               timeout=10, what="the cancelled turn to end")
    items = sessions.transcript_page(stack.org, "task-1", session_id).items
    assert items[-1].kind == "turn_finished" and items[-1].data["stop_reason"] == "cancelled"
    assert [i.kind for i in items].count("user_message") == 1
    assert len(chunks_of(stored(session_id))) < 30  # far from the 60 slow chunks


def test_a_queued_message_is_prompted_when_the_turn_ends(task_stack: Any) -> None:
    """A message sent while the first turn waits for its permission answer
    is queued; answering ends the first turn and the second starts by itself."""
    stack: TaskStack = task_stack()
    session_id = sessions.create_session(stack.org, "task-1")
    sessions.send_message(stack.org, "task-1", session_id, "first")
    wait_until(lambda: sessions.pending_permissions(stack.org, "task-1", session_id),
               timeout=30, what="the first permission request")
    assert sessions.send_message(stack.org, "task-1", session_id, "second")["queued"]
    [first] = sessions.pending_permissions(stack.org, "task-1", session_id)
    sessions.answer_permission(stack.org, "task-1", session_id, first["request_id"], "deny")

    def second_asks() -> bool:
        pending = sessions.pending_permissions(stack.org, "task-1", session_id)
        return bool(pending) and pending[0]["request_id"] != first["request_id"]

    wait_until(second_asks, timeout=30, what="the queued message's turn")
    [second] = sessions.pending_permissions(stack.org, "task-1", session_id)
    sessions.answer_permission(stack.org, "task-1", session_id, second["request_id"], "deny")
    wait_until(lambda: Session.objects.get(session_id=session_id).status == "idle",
               timeout=30, what="the second turn to end")
    items = sessions.transcript_page(stack.org, "task-1", session_id).items
    assert [i.data["text"] for i in items if i.kind == "user_message"] == ["first", "second"]
    assert [i.data["stop_reason"] for i in items if i.kind == "turn_finished"] == [
        "end_turn", "end_turn"
    ]
    assert Session.objects.get(session_id=session_id).turns == 2


def test_a_failing_turn_is_an_error_and_the_session_goes_on(task_stack: Any) -> None:
    """``/fail``: the agent's JSON-RPC error ends the turn as an error of the
    session and the task; the next message works."""
    stack: TaskStack = task_stack()
    session_id = sessions.create_session(stack.org, "task-1")
    sessions.send_message(stack.org, "task-1", session_id, "please /fail")
    # follow (for ``task send --follow``) yields items as they are stored
    # and ends with the turn.
    followed = list(sessions.follow(stack.org, "task-1", session_id, timeout=30))
    assert followed[0].kind == "user_message" and followed[-1].kind == "turn_finished"
    assert Session.objects.get(session_id=session_id).status == "error"
    assert Task.objects.get(task_id="task-1").state == "error"
    items = sessions.transcript_page(stack.org, "task-1", session_id).items
    errors = [i for i in items if i.kind == "error"]
    assert errors and "/fail" in str(errors[0].data)
    sessions.send_message(stack.org, "task-1", session_id, "again")
    wait_until(lambda: sessions.pending_permissions(stack.org, "task-1", session_id),
               timeout=30, what="the next turn's permission request")
    assert Task.objects.get(task_id="task-1").state == "running"


def test_worker_and_stream_consumer_killed_mid_turn(task_stack: Any) -> None:
    """The worker and the stream consumer are SIGKILLed while a /slow turn
    streams; the agent keeps talking into sandbox-agent's buffer. New ones
    resume from the last stored event: the transcript ends complete, every
    envelope the agent sent stored once, in order."""
    import os
    import signal

    stack: TaskStack = task_stack()
    session_id = sessions.create_session(stack.org, "task-1")
    sent = sessions.send_message(stack.org, "task-1", session_id, "take it /slow")
    wait_until(lambda: len(chunks_of(stored(session_id))) >= 8, timeout=30,
               what="the slow turn streaming")
    for proc in stack.workers:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    stack.consumer.kill()
    killed_at = len(stored(session_id))
    time.sleep(1.5)  # about six chunks go into sandbox-agent's buffer meanwhile
    assert len(stored(session_id)) == killed_at
    stack.start_workers()
    stack.consumer.start()

    wait_until(lambda: sessions.pending_permissions(stack.org, "task-1", session_id),
               timeout=40, what="the permission request after the slow part")
    [pending] = sessions.pending_permissions(stack.org, "task-1", session_id)
    sessions.answer_permission(stack.org, "task-1", session_id, pending["request_id"], "allow")
    wait_until(lambda: Session.objects.get(session_id=session_id).status == "idle",
               timeout=30, what="the turn to end")

    session = Session.objects.get(session_id=session_id)
    events = stored(session_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    agent_events = [e for e in events if e.source == EventSource.AGENT]
    assert [e.event_index for e in agent_events] == list(range(1, len(agent_events) + 1))
    assert [e.data for e in agent_events] == agent_stream(stack, session, sent["request_id"])
    slow = [t for t in chunks_of(events) if t.startswith(" Thinking slowly")]
    assert slow == [f" Thinking slowly ({i}/60)." for i in range(1, 61)]
    assert chunks_of(events)[-1] == DEMO_ALLOWED_LAST
    kinds = [e.kind for e in events]
    assert kinds.count("turn_finished") == 1 and kinds[-1] == "turn_finished"
