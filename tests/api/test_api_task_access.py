"""Every task and session endpoint refuses another organization's task
(404, nothing materialized, no command sent) and a revoked or expired
token (401), with the one error schema."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from foundry.actors.models import ActorInstance, Command
from orgs.models import TaskIndexEntry
from tasks.models import Task
from tasks.session_models import Session
from users.token_models import PersonalAccessToken
from users.tokens import create_token, revoke_token

T = "/api/v1/orgs/acme/tasks/t-virtual"
S = "/api/v1/orgs/acme/tasks/t-real/sessions/s1"

# (method, path, JSON body) of every endpoint on one task or session.
ENDPOINTS: list[tuple[str, str, dict[str, object] | None]] = [
    ("get", T, None),
    ("post", T + "/rename", {"title": "x"}),
    ("post", T + "/archive", {}),
    ("post", T + "/unarchive", None),
    ("post", T + "/owner", {"login": "alice"}),
    ("post", T + "/push", None),
    ("post", T + "/pr", {}),
    ("post", T + "/revert", {"path": "README.md"}),
    ("get", T + "/git", None),
    ("get", T + "/diff?path=README.md", None),
    ("get", T + "/sessions", None),
    ("post", T + "/sessions", {}),
    ("get", S + "/transcript", None),
    ("post", S + "/messages", {"text": "hi"}),
    ("post", S + "/stop", None),
    ("post", S + "/permissions/1", {"option_id": "allow"}),
    ("get", S + "/events?until_idle=true", None),
    ("post", "/api/v1/orgs/acme/tasks", {"repo": "repo-001", "prompt": "hi"}),
]


@pytest.fixture
def acme_tasks(two_orgs: dict[str, User]) -> None:
    """A virtual task (an index entry) and a task with a session in acme."""
    TaskIndexEntry.objects.create(org="acme", task_id="t-virtual", repo_id=1, branch="b1",
                                  pr_number=7)
    TaskIndexEntry.objects.create(org="acme", task_id="t-real", repo_id=1, branch="b2")
    record = Task.objects.create(org="acme", task_id="t-real", repo_id=1,
                                 repo_full_name="acme/repo-001", branch="b2", title="Real")
    Session.objects.create(task=record, org="acme", task_key="t-real", session_id="s1")


def call(client: Client, method: str, path: str, body: dict[str, object] | None) -> object:
    if method == "get":
        return client.get(path)
    return client.post(path, body if body is not None else {}, content_type="application/json")


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_another_organizations_task_is_404(
    acme_tasks: None, two_orgs: dict[str, User], as_token: Callable[[User], Client],
    method: str, path: str, body: dict[str, object] | None,
) -> None:
    """bob (initech only) gets 404 for acme's tasks and sessions; no task
    actor is created and no command is sent on his behalf."""
    response = call(as_token(two_orgs["bob"]), method, path, body)
    assert response.status_code == 404, response.content  # type: ignore[attr-defined]
    assert response.json()["code"] == "not_found"  # type: ignore[attr-defined]
    assert not ActorInstance.objects.filter(actor_type="task").exists()
    assert not Command.objects.exists()


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_a_revoked_or_expired_token_is_401(
    acme_tasks: None, two_orgs: dict[str, User], method: str, path: str,
    body: dict[str, object] | None,
) -> None:
    alice = two_orgs["alice"]
    revoked = create_token(alice, "revoked")
    revoke_token(alice, revoked.record.pk)
    expired = create_token(alice, "expired")
    PersonalAccessToken.objects.filter(pk=expired.record.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    for secret in (revoked.secret, expired.secret, "fdy_not-a-token"):
        response = call(Client(HTTP_AUTHORIZATION=f"Bearer {secret}"), method, path, body)
        assert response.status_code == 401  # type: ignore[attr-defined]
        assert response.json()["code"] == "unauthenticated"  # type: ignore[attr-defined]
    assert not Command.objects.exists()


def test_unknown_ids_and_bad_input(
    acme_tasks: None, two_orgs: dict[str, User], as_token: Callable[[User], Client]
) -> None:
    """A member asking for what does not exist gets 404; bad input 422,
    before any actor is touched."""
    alice = as_token(two_orgs["alice"])
    assert alice.get("/api/v1/orgs/acme/tasks/nope").status_code == 404
    assert alice.get("/api/v1/orgs/acme/tasks/t-real/sessions/nope/transcript").status_code == (
        404)
    assert alice.post("/api/v1/orgs/acme/tasks/t-real/sessions/s1/permissions/9",
                      {"option_id": "allow"}, content_type="application/json"
                      ).status_code == 404
    bad = [
        ("/api/v1/orgs/acme/tasks/t-real/rename", {"title": "   "}),
        ("/api/v1/orgs/acme/tasks/t-real/rename", {"title": ""}),
        ("/api/v1/orgs/acme/tasks/t-real/owner", {"login": "bob"}),  # not in acme
        ("/api/v1/orgs/acme/tasks/t-real/revert", {"path": "../../etc/passwd"}),
        ("/api/v1/orgs/acme/tasks/t-real/sessions/s1/messages", {"text": " "}),
        ("/api/v1/orgs/acme/tasks", {"repo": "no-such-repo", "prompt": "hi"}),
    ]
    for path, body in bad:
        response = alice.post(path, body, content_type="application/json")
        assert response.status_code == 422, (path, response.content)
        assert set(response.json()) == {"code", "message", "details"}
    assert not Command.objects.exists()
    sessions = alice.get("/api/v1/orgs/acme/tasks/t-real/sessions").json()
    assert [s["session_id"] for s in sessions] == ["s1"]
    page = alice.get("/api/v1/orgs/acme/tasks/t-real/sessions/s1/transcript").json()
    assert (page["items"], page["last_seq"], page["has_more"]) == ([], 0, False)
