"""The person's side of tasks (user actor, a real worker; PostgreSQL and
SQLite): bumps order the feed, a notification is recorded once per event
and bumps its task, unread counts per session and drafts per person,
mark_read, and the same over ``/api/v1/me/…`` (membership checked)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from orgs.models import TaskIndexEntry, TaskSummary
from tasks.models import Task
from tasks.session_models import Session
from tests.conftest import Workers
from users.actor import user_handle
from users.feed import bump_task, notify_owner
from users.feed_models import Notification, NotificationKind
from users.feed_reads import notifications, sessions_unread, task_feed
from users.models import Membership
from users.tokens import create_token

pytestmark = pytest.mark.workers


@pytest.fixture
def people(workers: Workers) -> dict[str, Any]:
    workers.start(queues="actors.user,maintenance")
    alice = User.objects.create(username="alice")
    bob = User.objects.create(username="bob")
    Membership.objects.create(user=alice, org="acme")
    Membership.objects.create(user=bob, org="initech")
    for task_id, title in (("t1", "First"), ("t2", "Second"), ("t3", "Third")):
        TaskIndexEntry.objects.create(org="acme", task_id=task_id, repo_id=1, branch=task_id)
        TaskSummary.objects.create(org="acme", task_id=task_id, repo_id=1, repo_name="r",
                                   title=title, branch=task_id)
    record = Task.objects.create(org="acme", task_id="t1", repo_id=1, repo_full_name="acme/r",
                                 branch="t1", title="First", owner=alice)
    Session.objects.create(task=record, org="acme", task_key="t1", session_id="s1",
                           last_seq=12)
    return {"alice": alice, "bob": bob}


def drained(user_id: int) -> None:
    """Every command sent to the person's actor so far has finished."""
    ref = user_handle(user_id).send("user.command.bump_task",
                                    {"org": "none", "task_id": "none"})
    ref.wait(timeout=30)


def test_feed_notifications_unread_and_drafts(people: dict[str, Any]) -> None:
    alice = people["alice"]
    bump_task(alice.pk, "acme", "t2", "opened")
    bump_task(alice.pk, "acme", "t3", "opened")
    bump_task(alice.pk, "acme", "t2", "message")
    drained(alice.pk)
    assert [(i.task_id, i.reason, i.title) for i in task_feed(alice.pk)] == [
        ("t2", "message", "Second"), ("t3", "opened", "Third")]

    # A notification goes to the owner, once per event, and bumps the task.
    for _ in range(2):
        assert notify_owner("acme", "t1", NotificationKind.AGENT_FINISHED, "turn/s1/turn-1",
                            session_id="s1", message="done")
    assert not notify_owner("acme", "t2", NotificationKind.AGENT_FAILED, "x")  # no owner
    notify_owner("acme", "t1", NotificationKind.PR_MERGED, "pr/3/merged")
    drained(alice.pk)
    found = notifications(alice.pk)
    assert found.unread_count == 2
    assert [n.kind for n in found.items] == ["pr_merged", "agent_finished"]
    assert task_feed(alice.pk)[0].task_id == "t1"
    assert [(s.session_id, s.unread) for s in sessions_unread(alice.pk, "acme", "t1")] == [
        ("s1", 12)]

    api = Client(HTTP_AUTHORIZATION=f"Bearer {create_token(alice, 'feed').secret}")
    me = "/api/v1/me/orgs/acme/tasks/t1/sessions"
    assert [t["task_id"] for t in api.get("/api/v1/me/feed").json()] == ["t1", "t2", "t3"]
    listed = api.get("/api/v1/me/notifications?unread=true").json()
    assert listed["unread_count"] == 2 and len(listed["notifications"]) == 2
    marked = api.post(me + "/s1/read", {"up_to_seq": 5}, content_type="application/json")
    assert marked.json() == {"marked": 2, "unread": 0, "last_read_seq": 5}
    assert api.get(me).json()[0]["unread"] == 7
    # Read positions only move forward; none given is the last event.
    api.post(me + "/s1/read", {"up_to_seq": 2}, content_type="application/json")
    assert api.get(me).json()[0]["last_read_seq"] == 5
    api.post(me + "/s1/read", {}, content_type="application/json")
    assert api.get(me).json()[0]["unread"] == 0

    saved = api.put(me + "/s1/draft", {"text": "half a thought"},
                    content_type="application/json")
    assert saved.json() == {"session_id": "s1", "draft": "half a thought"}
    assert api.get(me + "/s1/draft").json()["draft"] == "half a thought"
    assert api.get(me).json()[0]["draft"] == "half a thought"

    notify_owner("acme", "t1", NotificationKind.AGENT_NEEDS_INPUT, "permission/s1/13")
    drained(alice.pk)
    [unread] = Notification.objects.filter(read_at__isnull=True)
    everything = api.post("/api/v1/me/notifications/read", {"ids": [unread.pk]},
                          content_type="application/json")
    assert everything.json()["marked"] == 1 and everything.json()["unread"] == 0

    # Another organization's sessions are 404; the feed hides an org left.
    bob = Client(HTTP_AUTHORIZATION=f"Bearer {create_token(people['bob'], 'feed').secret}")
    for path in (me, me + "/s1/draft"):
        assert bob.get(path).status_code == 404
    assert bob.put(me + "/s1/draft", {"text": "x"},
                   content_type="application/json").status_code == 404
    assert bob.post(me + "/s1/read", {}, content_type="application/json").status_code == 404
    assert bob.get("/api/v1/me/feed").json() == []
    Membership.objects.filter(user=alice).delete()
    assert task_feed(alice.pk) == [] and notifications(alice.pk).items == []
