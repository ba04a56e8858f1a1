"""Long work over the API: a full sync answers 202 with a URL to follow,
or its result with ?wait; the URL is the organization's own."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from orgs.models import Organization
from users.models import Membership
from users.tokens import create_token


@pytest.mark.django_db(transaction=True)
def test_full_sync_is_accepted_then_followed(github_stack: Callable[..., Any]) -> None:
    stack = github_stack(repos=3, branches_per_repo=2, prs_per_repo=1, members=2)
    stack.start_workers()
    Organization.objects.create(org_id="acme", login="acme",
                                installation_id=stack.emulator.installation_id)
    Organization.objects.create(org_id="initech", login="initech")
    alice = User.objects.create(username="alice")
    Membership.objects.create(user=alice, org="acme")
    bob = User.objects.create(username="bob")
    Membership.objects.create(user=bob, org="initech")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {create_token(alice, 't').secret}")

    started = client.post("/api/v1/orgs/acme/sync")
    assert started.status_code == 202, started.content
    body = started.json()
    assert body["status"] == "queued" and body["url"].endswith(f"/commands/{body['command_id']}")
    deadline = time.monotonic() + 60
    while (followed := client.get(body["url"]).json())["status"] != "succeeded":
        assert followed["status"] in ("queued", "running", "waiting"), followed
        assert time.monotonic() < deadline, followed
        time.sleep(0.2)
    assert followed["name"] == "github_data.command.full_sync"
    assert followed["actor"] == "github_data:acme"

    repos = client.get("/api/v1/orgs/acme/repos").json()
    assert len(repos) == 3 and sum(r["open_prs"] for r in repos) == 3
    assert client.get("/api/v1/orgs/acme/sync").json()["status"] == "succeeded"

    waited = client.post("/api/v1/orgs/acme/sync?wait=60")
    assert waited.status_code == 200 and waited.json()["status"] == "succeeded"
    assert waited.json()["result"]["github_requests"] > 0

    # The command is acme's: from initech's URL, or for bob, it does not exist.
    bob_client = Client(HTTP_AUTHORIZATION=f"Bearer {create_token(bob, 't').secret}")
    assert bob_client.get(body["url"]).status_code == 404
    assert bob_client.get(
        f"/api/v1/orgs/initech/commands/{body['command_id']}").status_code == 404
