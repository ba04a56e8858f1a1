"""The workbench page's one websocket (``ws/o/<org>/live/``): the
organization's, the open task's and the open session's events over one
socket, the session from the client's last sequence number; membership
checked as for pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from tasks import sessions
from tasks.session_models import Session, SessionEvent
from tests.sessions.conftest import TaskStack, WsClient

pytestmark = pytest.mark.workers


def live_path(stack: TaskStack, task: str = "task-1", session: str = "", after: int = 0) -> str:
    path = f"/ws/o/{stack.org}/live/?task={task}"
    return path + (f"&session={session}&after={after}" if session else "")


def next_of(client: WsClient, predicate: Any, timeout: float = 60) -> dict[str, Any]:
    while True:
        message = client.next(timeout)
        assert message.get("type") != "closed", message
        if predicate(message):
            return message


def test_one_socket_catches_up_then_carries_task_and_session_events(
    task_stack: Any, ws_clients: Any
) -> None:
    """A client reconnecting from sequence N gets N+1 onward, then
    ``caught_up``; a session change comes as a task event and a new
    transcript event live, on the same socket."""
    stack: TaskStack = task_stack()
    session_id = sessions.create_session(stack.org, "task-1", as_user=stack.user.pk)
    sessions.send_message(stack.org, "task-1", session_id, "Please improve the README",
                          as_user=stack.user.pk)
    for item in sessions.follow(stack.org, "task-1", session_id, timeout=60):
        if item.kind == "permission_request" and item.data["status"] == "pending":
            sessions.answer_permission(stack.org, "task-1", session_id,
                                       item.data["request_id"], "allow")
    last = Session.objects.get(session_id=session_id).last_seq
    assert last > 10

    cookie = stack.cookie(stack.user)
    client = ws_clients(live_path(stack, session=session_id, after=5), cookie)
    replay = [next_of(client, lambda m: m.get("type") == "event") for _ in range(last - 5)]
    assert [m["seq"] for m in replay] == list(range(6, last + 1))
    assert client.next() == {"type": "caught_up", "last_seq": last}

    sessions.rename_session(stack.org, "task-1", session_id, "Renamed")
    changed = next_of(client, lambda m: m.get("event") == "task.session_changed")
    assert changed["session"]["title"] == "Renamed"

    sessions.send_message(stack.org, "task-1", session_id, "again", as_user=stack.user.pk)
    live = next_of(client, lambda m: m.get("type") == "event")
    assert live["seq"] == last + 1 and live["kind"] == "user_message"
    stored = SessionEvent.objects.get(session__session_id=session_id, seq=last + 1)
    assert live["data"] == stored.data


def test_the_page_socket_checks_membership(task_stack: Any, ws_clients: Any) -> None:
    """Anonymous: 4401. A non-member, a task or a session the organization
    does not have: 4404. A member: the organization and the task, with or
    without a session."""
    stack: TaskStack = task_stack()
    Session.objects.create(task=stack.task, org=stack.org, task_key="task-1",
                           session_id="s1", status="idle")
    outsider = get_user_model().objects.create_user("mallory")
    assert ws_clients(live_path(stack, session="s1"), None).next() == {
        "type": "closed", "code": 4401}
    assert ws_clients(live_path(stack, session="s1"), stack.cookie(outsider)).next() == {
        "type": "closed", "code": 4404}
    member = stack.cookie(stack.user)
    assert ws_clients(live_path(stack, task="nope"), member).next() == {
        "type": "closed", "code": 4404}
    assert ws_clients(live_path(stack, session="nope"), member).next() == {
        "type": "closed", "code": 4404}
    assert ws_clients(live_path(stack, session="s1"), member).next() == {
        "type": "caught_up", "last_seq": 0}
