"""GitHub webhooks over real HTTP: the emulator signs and delivers to the
live server; real Celery workers run the commands the deliveries send."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from foundry.actors.models import OPEN_STATUSES, ActorInstance, Command, CommandStatus
from github_data.actor import github_data
from github_data.emulator import GitHubEmulator
from github_data.emulator.webhooks import signature
from github_data.models import (
    GitHubBranch,
    GitHubMember,
    GitHubPullRequest,
    GitHubRepository,
    WebhookDelivery,
)
from orgs.models import Organization, TaskIndexEntry, TaskSummary
from orgs.task_index import virtual_task_id
from tests.conftest import wait_until

from .conftest import GitHubStack

pytestmark = pytest.mark.workers

FULL_SYNC = "github_data.command.full_sync"
SMALL = {"repos": 3, "branches_per_repo": 3, "prs_per_repo": 1, "members": 3}


def hook_url(live_server: Any) -> str:
    return f"{live_server.url}/github/webhook"


def settle(timeout: float = 60) -> None:
    """Wait until every command sent so far (and every command those sent)
    has finished, and fail on any that failed."""
    wait_until(
        lambda: not Command.objects.filter(status__in=OPEN_STATUSES).exists(),
        timeout=timeout, what="all commands to finish",
    )
    failed = list(
        Command.objects.filter(status=CommandStatus.FAILED).values_list(
            "name", "error_type", "error_message"
        )
    )
    assert not failed, failed


def full_sync(emulator: GitHubEmulator) -> dict[str, Any]:
    org = emulator.org
    handle = github_data.get_or_create(org=org, create_with_input={"org": org})
    result: dict[str, Any] = handle.send(
        FULL_SYNC, {"org": org, "installation_id": emulator.installation_id},
        wait=True, timeout=120,
    )
    settle()
    return result


def post(url: str, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(url, content=body, headers=headers, timeout=30)


def signed(secret: str, payload: Any, event: str = "push") -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": signature(secret, body),
    }


def post_signed(url: str, secret: str, payload: Any, event: str) -> httpx.Response:
    body, headers = signed(secret, payload, event)
    return post(url, body, **headers)


@pytest.fixture
def synced(github_stack: Callable[..., GitHubStack], live_server: Any) -> GitHubStack:
    """A small organization, fully synced by real workers, whose emulator
    delivers its webhooks to the live server."""
    stack = github_stack(**SMALL)
    stack.start_workers()
    full_sync(stack.emulator)
    stack.emulator.webhooks.configure(url=hook_url(live_server))
    return stack


def statuses(emulator: GitHubEmulator) -> list[tuple[str, str | None, int | None]]:
    return [(d.event, d.action, d.status) for d in emulator.webhooks.deliveries()]


def summary(org: str, repo_id: int, number: int) -> TaskSummary:
    return TaskSummary.objects.get(org=org, task_id=virtual_task_id(repo_id, number))


# --- the door: signatures, headers, payloads, redeliveries --------------------


@pytest.mark.django_db(transaction=True)
def test_bad_or_missing_signature_is_401_and_stores_nothing(
    make_emulator: Callable[..., GitHubEmulator], live_server: Any, settings: Any
) -> None:
    """A delivery signed with another secret, or not signed at all, is
    refused before anything is recorded or sent."""
    emulator = make_emulator(**SMALL)
    settings.GITHUB_WEBHOOK_SECRET = emulator.webhook_secret
    url = hook_url(live_server)
    payload = {"action": "created", "installation": {"id": 1, "account": {
        "login": "acme", "type": "Organization"}}}

    bad = emulator.webhooks.send("installation", payload, bad_signature=True, url=url)
    assert bad.status == 401
    assert "error" in json.loads(bad.response_body)

    body, headers = signed(emulator.webhook_secret, payload, "installation")
    del headers["X-Hub-Signature-256"]
    missing = post(url, body, **headers)
    assert missing.status_code == 401, missing.text
    tampered = post(url, body + b" ", **signed(emulator.webhook_secret, payload)[1])
    assert tampered.status_code == 401
    # A valid HMAC-SHA1 in the SHA-256 header is still refused, and a header
    # that is not ASCII is a 401, not a crash.
    sha1 = hmac.new(emulator.webhook_secret.encode(), body, hashlib.sha1).hexdigest()
    assert post(url, body, **{**headers, "X-Hub-Signature-256": f"sha1={sha1}"}).status_code == 401
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"X-Hub-Signature-256", "sha256=\u00e9".encode("latin-1")))
    not_ascii = httpx.post(url, content=body, headers=raw, timeout=30)
    assert not_ascii.status_code == 401, not_ascii.text

    assert WebhookDelivery.objects.count() == 0
    assert Command.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_malformed_deliveries_are_400_never_500(live_server: Any, settings: Any) -> None:
    """Missing headers, a body that is not JSON, and payloads missing what
    their event needs are refused with a message; nothing is stored."""
    secret = settings.GITHUB_WEBHOOK_SECRET
    url = hook_url(live_server)

    body, headers = signed(secret, {"zen": "hi"})
    for header in ("X-GitHub-Event", "X-GitHub-Delivery"):
        response = post(url, body, **{k: v for k, v in headers.items() if k != header})
        assert response.status_code == 400, response.text

    not_json = b"{not json"
    headers["X-Hub-Signature-256"] = signature(secret, not_json)
    response = post(url, not_json, **headers)
    assert response.status_code == 400
    assert response.json()["error"] == "body is not JSON"

    cases = [
        ("pull_request", {"action": "opened", "repository": {"id": 1}}),
        ("push", {"ref": "refs/heads/main"}),
        ("installation", {"action": "created", "installation": {"id": 5}}),
        ("organization", {"action": "member_added", "organization": {"login": "acme"}}),
        ("create", {"ref_type": "branch", "ref": "x", "repository": "not an object"}),
        ("push", [1, 2, 3]),
        ("installation", {"action": "created", "installation": {
            "id": "not a number", "account": {"login": "acme", "type": "Organization"}}}),
        ("organization", {"action": "member_added", "organization": {"login": "a/b"},
                          "membership": {"user": {"id": 1, "login": "x"}}}),
    ]
    for event, payload in cases:
        response = post_signed(url, secret, payload, event)
        assert response.status_code == 400, (event, response.text)
        assert response.json()["error"]

    assert WebhookDelivery.objects.count() == 0
    assert Command.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_redelivery_is_a_duplicate_and_unknown_events_are_recorded(
    make_emulator: Callable[..., GitHubEmulator], live_server: Any, settings: Any
) -> None:
    """A redelivery (same delivery id) answers 200 duplicate and sends
    nothing; an event Foundry does not handle is recorded and ignored."""
    emulator = make_emulator(**SMALL)
    settings.GITHUB_WEBHOOK_SECRET = emulator.webhook_secret
    emulator.webhooks.configure(url=hook_url(live_server))

    emulator.dataset.open_pull_request("repo-001", "fix-notifications", title="Fix it")
    [opened] = emulator.webhooks.deliveries()
    assert opened.status == 202, opened.response_body
    row = WebhookDelivery.objects.get(delivery_id=opened.id)
    assert (row.event, row.action, row.org) == ("pull_request", "opened", "acme")
    [command] = Command.objects.all()
    assert row.command_ids == [command.pk]
    assert command.name == "github_data.command.apply_pull_request"
    assert command.instance.key == "acme"

    again = emulator.webhooks.redeliver(opened.id)
    assert again.status == 200
    assert json.loads(again.response_body) == {"status": "duplicate"}
    assert Command.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1

    star = emulator.webhooks.send("star", {"action": "created", "starred_at": None})
    assert star.status == 202
    assert json.loads(star.response_body) == {"status": "ignored"}
    assert WebhookDelivery.objects.get(delivery_id=star.id).command_ids == []
    assert Command.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_installation_of_a_personal_account_queues_one_sync(
    live_server: Any, settings: Any
) -> None:
    """A user account's org id is ``personal-<login>``; a second sync is not
    queued while the first has not run yet."""
    url, secret = hook_url(live_server), settings.GITHUB_WEBHOOK_SECRET
    installation = {"id": 77, "account": {"login": "octo", "type": "User"}}
    created = post_signed(url, secret, {"action": "created", "installation": installation},
                          "installation")
    assert created.status_code == 202, created.text
    changed = post_signed(url, secret, {"action": "added", "installation": installation},
                          "installation_repositories")
    assert changed.status_code == 202, changed.text
    assert changed.json()["command_ids"] == []

    [command] = Command.objects.all()
    assert command.name == FULL_SYNC
    assert command.instance.actor_type == "github_data"
    assert command.instance.key == "personal-octo"
    payload = command.payload or {}
    assert (payload["installation_id"], payload["connected_account"]) == (77, "octo")
    assert created.json()["command_ids"] == [command.pk]


# --- effects, with real workers ------------------------------------------------


def test_pull_request_lifecycle_updates_virtual_tasks(synced: GitHubStack) -> None:
    """Opened → a virtual task (rows, no task actor); edited and pushed to →
    its summary follows; closed, reopened and merged → archived with the
    reason, then open again, then merged."""
    gh = synced.emulator
    org, repo_id = gh.org, gh.dataset.repo("repo-001").id
    assert TaskSummary.objects.filter(org=org).count() == 3

    pr = gh.dataset.open_pull_request("repo-001", "fix-notifications", title="Fix notifications")
    settle()
    task_id = virtual_task_id(repo_id, pr.number)
    assert TaskIndexEntry.objects.get(org=org, task_id=task_id).branch == "fix-notifications"
    opened = summary(org, repo_id, pr.number)
    assert (opened.title, opened.pr_state, opened.status) == ("Fix notifications", "open", "idle")
    assert GitHubPullRequest.objects.filter(org=org, number=pr.number).exists()
    assert not ActorInstance.objects.filter(actor_type="task").exists()

    gh.dataset.edit_pull_request("repo-001", pr.number, title="Fix the notifications")
    settle()
    assert summary(org, repo_id, pr.number).title == "Fix the notifications"

    gh.dataset.close_pull_request("repo-001", pr.number)
    settle()
    closed = summary(org, repo_id, pr.number)
    assert (closed.pr_state, closed.status, closed.archived_reason) == (
        "closed", "archived", "PR closed")
    assert not GitHubPullRequest.objects.filter(org=org, number=pr.number).exists()

    gh.dataset.reopen_pull_request("repo-001", pr.number)
    settle()
    reopened = summary(org, repo_id, pr.number)
    assert (reopened.pr_state, reopened.status, reopened.archived_reason) == ("open", "idle", "")

    sha = gh.dataset.push("repo-001", "fix-notifications")
    settle()
    assert summary(org, repo_id, pr.number).head_sha == sha
    assert GitHubBranch.objects.get(org=org, name="fix-notifications").head_sha == sha

    gh.dataset.merge_pull_request("repo-001", pr.number)
    settle()
    merged = summary(org, repo_id, pr.number)
    assert (merged.pr_state, merged.status, merged.archived_reason) == (
        "merged", "archived", "PR merged")
    main = GitHubBranch.objects.get(repository__github_id=repo_id, name="main")
    assert main.head_sha == gh.dataset.branch("repo-001", "main").sha

    assert not ActorInstance.objects.filter(actor_type="task").exists()
    assert {status for *_, status in statuses(gh)} == {202}
    assert WebhookDelivery.objects.count() == len(gh.webhooks.deliveries())


def test_branch_and_member_changes(synced: GitHubStack) -> None:
    """Created, pushed and deleted branches and added and removed members
    reach the GitHub cache; deleting a PR's head branch closes its task."""
    gh = synced.emulator
    org, repo = gh.org, gh.dataset.repo("repo-002")

    gh.dataset.create_branch("repo-002", "feature-webhooks")
    settle()
    branch = GitHubBranch.objects.get(repository__github_id=repo.id, name="feature-webhooks")
    assert branch.head_sha == gh.dataset.branch("repo-002", "main").sha

    sha = gh.dataset.push("repo-002", "feature-webhooks")
    settle()
    branch.refresh_from_db()
    assert branch.head_sha == sha

    gh.dataset.delete_branch("repo-002", "feature-webhooks")
    gh.dataset.delete_branch("repo-002", "chore-api-client")  # the head of PR #1
    settle()
    names = set(GitHubBranch.objects.filter(repository__github_id=repo.id)
                .values_list("name", flat=True))
    assert names == {"main", "docs-notifications"}
    closed = summary(org, repo.id, 1)
    assert (closed.status, closed.archived_reason) == ("archived", "PR closed")

    gh.dataset.add_member("grace-hopper")
    gh.dataset.remove_member("bjarne-keller")
    settle()
    logins = set(GitHubMember.objects.filter(org=org).values_list("login", flat=True))
    assert logins == {"barbara-ritchie", "radia-liskov", "grace-hopper"}

    assert {status for *_, status in statuses(gh)} == {202}
    assert not ActorInstance.objects.filter(actor_type="task").exists()


def test_installation_deleted_then_created_again(synced: GitHubStack) -> None:
    """Uninstalling marks the organization "install required"; installing
    again runs a full sync with the new installation."""
    gh = synced.emulator
    org = gh.org
    gh.dataset.delete_installation()
    settle()
    assert Organization.objects.get(org_id=org).installation_status == "removed"

    gh.dataset.create_installation()
    settle(timeout=120)
    syncs = Command.objects.filter(name=FULL_SYNC, status=CommandStatus.SUCCEEDED)
    assert syncs.count() == 2
    profile = Organization.objects.get(org_id=org)
    assert profile.installation_status == "installed"
    assert profile.installation_id == gh.installation_id
    assert [status for *_, status in statuses(gh)] == [202, 202]


def test_installation_before_anyone_signed_in_syncs(
    github_stack: Callable[..., GitHubStack], live_server: Any
) -> None:
    """An installation webhook for an organization Foundry has never seen
    (no profile row) completes a full sync on its own."""
    stack = github_stack(**SMALL)
    gh = stack.emulator
    gh.dataset.delete_installation()  # no webhook target yet: nobody hears it
    stack.start_workers()
    gh.webhooks.configure(url=hook_url(live_server))
    assert not Organization.objects.exists()

    gh.dataset.create_installation()
    [delivery] = gh.webhooks.deliveries()
    assert (delivery.event, delivery.action, delivery.status) == ("installation", "created", 202)
    settle(timeout=120)

    sync = Command.objects.get(name=FULL_SYNC)
    assert sync.status == CommandStatus.SUCCEEDED
    assert (sync.result or {})["repos"] == 3
    profile = Organization.objects.get(org_id=gh.org)
    assert (profile.installation_status, profile.installation_id) == (
        "installed", gh.installation_id)
    assert GitHubRepository.objects.filter(org=gh.org).count() == 3
    assert GitHubMember.objects.filter(org=gh.org).count() == 3
    assert TaskSummary.objects.filter(org=gh.org).count() == 3
    assert not ActorInstance.objects.filter(actor_type="task").exists()
