"""A task's whole life over the REST API, against the real stack (the
GitHub emulator, a local sandbox with the real sandbox-agent and demo
agent, real workers, the stream consumer as a process, the ASGI app under
uvicorn; PostgreSQL and SQLite): create from a prompt → follow the
transcript as server-sent events, answer the permission request → git
state, a file's diff, a revert → open the PR as the owner → rename, change
owner, archive, unarchive; a virtual task is materialized when opened."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User

from audit_log.models import AuditEntry, AuditKind
from foundry.actors.models import ActorInstance
from orgs.models import TaskIndexEntry, TaskSummary
from sandboxes.actor import sandbox
from tasks.session_models import SessionEvent
from tests.sandboxes.conftest import sandbox_stack  # noqa: F401  (a fixture)
from tests.sessions.conftest import ConsumerProcess, LiveServer
from tests.tasks.conftest import (
    ORG,
    TaskStack,
    settle,
    task_stack,  # noqa: F401  (a fixture)
)
from tests.tasks.test_git_and_pull_requests import github, in_sandbox
from users.feed_models import Notification, TaskAttention
from users.tokens import create_token

pytestmark = [pytest.mark.workers, pytest.mark.timeout(400)]


def sse_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """``{"id", "event", "data"}`` per server-sent event of a stream."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if "event" in fields or "data" in fields:
                yield {"id": fields.get("id"), "event": fields.get("event", "message"),
                       "data": json.loads(fields.get("data", "null"))}
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


@pytest.mark.django_db(transaction=True)
def test_a_task_over_the_api(
    task_stack: TaskStack, tmp_path: Path, settings: Any  # noqa: F811
) -> None:
    # ?wait= long enough for a sandbox's first clone on a busy machine.
    settings.FOUNDRY_API_MAX_WAIT_SECONDS = 150
    consumer = ConsumerProcess(task_stack.sandboxes.stack.workers.env, tmp_path).start()
    server = LiveServer()
    try:
        _flow(task_stack, server)
    finally:
        server.stop()
        consumer.stop()


def _flow(stack: TaskStack, server: LiveServer) -> None:
    alice = User.objects.get(username="alice")
    api = httpx.Client(base_url=f"http://127.0.0.1:{server.port}/api/v1", timeout=150,
                       headers={"Authorization": f"Bearer {create_token(alice, 'e2e').secret}"})

    # A virtual task (an open PR from the sync) gets its actor when opened.
    virtual = TaskIndexEntry.objects.filter(org=ORG, pr_number__isnull=False).first()
    assert virtual is not None
    assert not ActorInstance.objects.filter(actor_type="task", key__contains=virtual.task_id)
    opened = api.get(f"/orgs/{ORG}/tasks/{virtual.task_id}?git=false")
    assert opened.status_code == 200, opened.text
    assert opened.json()["pull_request"]["number"] == virtual.pr_number
    assert ActorInstance.objects.filter(actor_type="task", key__contains=virtual.task_id)

    created = api.post(f"/orgs/{ORG}/tasks?wait=120",
                       json={"repo": "repo-001", "prompt": "Please improve the README"})
    assert created.status_code == 200, created.text
    made = created.json()
    task_id, session_id = made["task_id"], made["session_id"]
    assert made["status"] == "succeeded" and made["url"].startswith(f"/api/v1/orgs/{ORG}/commands/")
    assert api.get(made["url"].removeprefix("/api/v1")).json()["status"] == "succeeded"
    base = f"/orgs/{ORG}/tasks/{task_id}/sessions/{session_id}"

    # Follow the turn as server-sent events; answer the permission request.
    seen: list[dict[str, Any]] = []
    with api.stream("GET", base + "/events?after=0") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for event in sse_events(stream):
            seen.append(event)
            if event["event"] == "permission_request":
                request_id = event["data"]["data"]["id"]
                answer = api.post(f"{base}/permissions/{request_id}",
                                  json={"option_id": "allow"})
                assert answer.status_code == 200, answer.text
            if event["event"] == "turn_finished":
                break  # the client goes; the server's loop ends on its next await
    stored = list(SessionEvent.objects.filter(session__session_id=session_id)
                  .order_by("seq").values_list("seq", "kind"))
    assert [(int(e["id"]), e["event"]) for e in seen] == stored[:len(seen)]
    assert [e["data"]["seq"] for e in seen] == list(range(1, len(seen) + 1))

    # A reconnecting client from N gets N+1 onward, then the stream ends.
    settle()
    last = stored[-1][0]
    with api.stream("GET", base + f"/events?after={last - 3}&until_idle=true") as stream:
        tail = list(sse_events(stream))
    assert [e["data"]["seq"] for e in tail[:-1]] == [last - 2, last - 1, last]
    assert tail[-1] == {"id": None, "event": "idle", "data": {"last_seq": last}}

    # The owner was told the agent needed input, then finished; the task
    # tops her feed; the session is unread until she reads it.
    mine = api.get("/me/notifications").json()
    assert [(n["kind"], n["task_id"]) for n in mine["notifications"]] == [
        ("agent_finished", task_id), ("agent_needs_input", task_id)]
    assert mine["unread_count"] == 2
    assert api.get("/me/feed").json()[0]["task_id"] == task_id
    me = f"/me/orgs/{ORG}/tasks/{task_id}/sessions"
    assert api.get(me).json()[0]["unread"] == last
    assert api.post(me + f"/{session_id}/read", json={}).json()["unread"] == 0

    page = api.get(base + "/transcript?after=0&limit=500").json()
    kinds = [i["kind"] for i in page["items"]]
    assert kinds[0] == "user_message" and kinds[-1] == "turn_finished"
    assert page["items"][0]["data"]["text"] == "Please improve the README"
    pages, after = [], 0
    while True:
        chunk = api.get(base + f"/transcript?after={after}&limit=4").json()
        pages.append(chunk)
        after = chunk["last_seq"]
        if not chunk["has_more"]:
            break
    assert after == last and len(pages) == -(-last // 4)
    [listed] = api.get(f"/orgs/{ORG}/tasks/{task_id}/sessions").json()
    assert (listed["session_id"], listed["status"], listed["last_seq"]) == (session_id, "idle",
                                                                          last)

    # Git: the agent's change, a diff, a revert.
    in_sandbox(task_id, "printf 'x\\n' > scratch.txt")
    files = api.get(f"/orgs/{ORG}/tasks/{task_id}/git").json()["git"]["files"]
    assert {f["path"]: f["status"] for f in files} == {"README.md": "M", "scratch.txt": "A"}
    diff = api.get(f"/orgs/{ORG}/tasks/{task_id}/diff?path=README.md").json()["diff"]
    assert "\n+" in diff
    reverted = api.post(f"/orgs/{ORG}/tasks/{task_id}/revert", json={"path": "scratch.txt"})
    assert reverted.status_code == 200 and reverted.json()["result"]["files_changed"] == 1
    detail = api.get(f"/orgs/{ORG}/tasks/{task_id}").json()
    assert [f["path"] for f in detail["git"]["files"]] == ["README.md"]
    assert (detail["owner_login"], detail["sandbox"]["status"]) == ("alice", "ready")

    # The PR, opened as the owner.
    pr = api.post(f"/orgs/{ORG}/tasks/{task_id}/pr?wait=120", json={})
    assert pr.status_code == 200, pr.text
    number = pr.json()["result"]["pr_number"]
    on_github = github(stack.emulator, f"/repos/{stack.repo_full_name()}/pulls/{number}").json()
    assert (on_github["head"]["ref"], on_github["user"]["login"]) == (made["branch"], "alice")
    assert AuditEntry.objects.get(kind=AuditKind.PR_OPENED, target=task_id).actor == "alice"

    # Fast commands answer with their result.
    assert api.post(f"/orgs/{ORG}/tasks/{task_id}/rename",
                    json={"title": "README, improved"}).json()["result"]["title"] == (
        "README, improved")
    owner = api.post(f"/orgs/{ORG}/tasks/{task_id}/owner", json={"login": "bob"})
    assert owner.status_code == 200, owner.text
    assert api.post(f"/orgs/{ORG}/tasks/{task_id}/archive", json={}).status_code == 200
    settle()
    summary = TaskSummary.objects.get(org=ORG, task_id=task_id)
    assert (summary.title, summary.owner_login, summary.status) == (
        "README, improved", "bob", "archived")
    assert api.post(f"/orgs/{ORG}/tasks/{task_id}/unarchive").json()["result"]["status"] != (
        "archived")
    # The PR merged on GitHub: the task is archived, its owner (bob now) told.
    stack.emulator.dataset.merge_pull_request(stack.repo_full_name(), number, "alice")
    settle()
    bob = User.objects.get(username="bob")
    told = Notification.objects.get(user=bob, task_id=task_id)
    assert (told.kind, told.message) == ("pr_merged", f"PR #{number} merged")
    assert TaskAttention.objects.get(user=bob, task_id=task_id).reason == "pr_merged"
    assert api.get(f"/orgs/{ORG}/tasks/{task_id}?git=false").json()["archived_reason"] == (
        "PR merged")
    # Archived tasks keep their transcript; pushing an archived task is a 409.
    assert api.get(base + "/transcript").status_code == 200
    refused = api.post(f"/orgs/{ORG}/tasks/{task_id}/push?wait=60")
    assert (refused.status_code, refused.json()["code"]) == (409, "command_failed")

    sandbox.get(org=ORG, sandbox=task_id).send("sandbox.command.destroy", wait=True,
                                               timeout=60)
    assert AuditEntry.objects.get(kind=AuditKind.SANDBOX_DESTROYED, target=task_id).org == ORG
    kinds = set(AuditEntry.objects.filter(target=task_id).values_list("kind", flat=True))
    assert {"task_created", "owner_changed", "branch_pushed", "pr_opened",
            "sandbox_destroyed"} <= kinds
