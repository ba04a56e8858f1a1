"""The API's frame: tokens (CLI, expiry, revocation), session auth with
CSRF, one error schema, membership as 404, rate limits, staff-only
inspection, the OpenAPI schema and docs."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.utils import timezone

from audit_log.append import append
from audit_log.models import AuditKind
from users.token_models import PersonalAccessToken

ERROR_KEYS = {"code", "message", "details"}


def _error(response: object, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.content  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == ERROR_KEYS and body["code"] == code, body
    return body


def test_token_command_creates_lists_and_revokes(two_orgs: dict[str, User]) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("token", "create", "alice", "--name", "ci", stdout=out, stderr=err)
    secret = out.getvalue().strip().splitlines()[-1]
    assert secret.startswith("fdy_") and "shown this once" in err.getvalue()
    stored = PersonalAccessToken.objects.get(user__username="alice")
    assert secret not in (stored.digest, stored.prefix) and stored.expires_at > timezone.now()

    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    me = client.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["login"] == "alice"
    assert me.json()["orgs"] == ["acme"]
    listing = io.StringIO()
    call_command("token", "list", "alice", stdout=listing)
    assert stored.prefix in listing.getvalue() and "last used" in listing.getvalue()
    PersonalAccessToken.objects.filter(pk=stored.pk).update(last_used_at=None)

    call_command("token", "revoke", "alice", str(stored.pk), stdout=io.StringIO())
    _error(client.get("/api/v1/me"), 401, "unauthenticated")
    with pytest.raises(CommandError, match="no person with the login"):
        call_command("token", "create", "nobody")
    with pytest.raises(CommandError, match="has no token"):
        call_command("token", "revoke", "bob", str(stored.pk))
    with pytest.raises(CommandError, match="1 to 366 days"):
        call_command("token", "create", "alice", "--days", "0")


def test_expired_garbage_and_missing_tokens_are_401(
    two_orgs: dict[str, User], as_token: Callable[[User], Client]
) -> None:
    client = as_token(two_orgs["alice"])
    assert client.get("/api/v1/orgs").status_code == 200
    PersonalAccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    _error(client.get("/api/v1/orgs"), 401, "unauthenticated")
    _error(Client(HTTP_AUTHORIZATION="Bearer fdy_nonsense").get("/api/v1/orgs"), 401,
           "unauthenticated")
    _error(Client().get("/api/v1/orgs"), 401, "unauthenticated")
    _error(Client().get("/api/v1/audit-log"), 401, "unauthenticated")


def test_another_organization_is_404(
    two_orgs: dict[str, User], as_token: Callable[[User], Client]
) -> None:
    alice = as_token(two_orgs["alice"])
    assert [o["org_id"] for o in alice.get("/api/v1/orgs").json()] == ["acme"]
    assert alice.get("/api/v1/orgs/acme").status_code == 200
    for path in ("/api/v1/orgs/initech", "/api/v1/orgs/initech/repos",
                 "/api/v1/orgs/initech/sync", "/api/v1/orgs/nowhere"):
        _error(alice.get(path), 404, "not_found")
    _error(alice.post("/api/v1/orgs/initech/sync"), 404, "not_found")
    carol = as_token(two_orgs["carol"])
    assert [o["org_id"] for o in carol.get("/api/v1/orgs").json()] == ["acme", "initech"]
    assert as_token(two_orgs["dave"]).get("/api/v1/orgs").json() == []


def test_the_audit_log_shows_only_my_organizations(
    two_orgs: dict[str, User], as_token: Callable[[User], Client]
) -> None:
    append(AuditKind.SIGN_IN, actor="alice", org="acme")
    append(AuditKind.SYNC_STARTED, org="acme")
    append(AuditKind.SYNC_STARTED, org="initech")
    alice = as_token(two_orgs["alice"])
    body = alice.get("/api/v1/audit-log").json()
    assert [(e["org"], e["kind"]) for e in body["entries"]] == [
        ("acme", "sync_started"), ("acme", "sign_in"),
    ]
    assert alice.get("/api/v1/audit-log?org=initech").json()["entries"] == []
    first = alice.get("/api/v1/audit-log?limit=1").json()
    assert len(first["entries"]) == 1 and first["next_before"] is not None
    rest = alice.get(f"/api/v1/audit-log?limit=1&before={first['next_before']}").json()
    assert [e["kind"] for e in rest["entries"]] == ["sign_in"] and rest["next_before"] is None
    assert [e["kind"] for e in alice.get("/api/v1/audit-log?kind=sign_in").json()["entries"]] \
        == ["sign_in"]
    bad = _error(alice.get("/api/v1/audit-log?kind=nonsense"), 422, "invalid_request")
    assert bad["details"], bad
    _error(alice.get("/api/v1/audit-log?limit=abc"), 422, "invalid_request")
    _error(alice.get("/api/v1/audit-log?limit=1000"), 422, "invalid_request")


def test_session_requests_need_csrf_on_unsafe_methods(two_orgs: dict[str, User]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(two_orgs["alice"])
    assert client.get("/api/v1/tokens").status_code == 200
    _error(client.post("/api/v1/tokens", {"name": "x"}, content_type="application/json"),
           403, "csrf_failed")
    client.get("/admin/login/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    created = client.post("/api/v1/tokens", {"name": "laptop", "days": 30},
                          content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert created.status_code == 201, created.content
    secret = created.json()["token"]
    assert Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/api/v1/me").status_code == 200
    # A token cannot mint tokens.
    _error(Client(HTTP_AUTHORIZATION=f"Bearer {secret}").post(
        "/api/v1/tokens", {"name": "y"}, content_type="application/json"), 401,
        "unauthenticated")
    _error(client.post("/api/v1/tokens", {"name": ""}, content_type="application/json",
                       HTTP_X_CSRFTOKEN=token), 422, "invalid_request")
    _error(client.post("/api/v1/tokens", "{not json", content_type="application/json",
                       HTTP_X_CSRFTOKEN=token), 400, "bad_request")
    revoked = client.delete(f"/api/v1/tokens/{created.json()['id']}", HTTP_X_CSRFTOKEN=token)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    _error(client.delete("/api/v1/tokens/999999", HTTP_X_CSRFTOKEN=token), 404, "not_found")


def test_rate_limit_per_token_with_retry_after(
    two_orgs: dict[str, User], as_token: Callable[[User], Client]
) -> None:
    alice, carol = as_token(two_orgs["alice"]), as_token(two_orgs["carol"])
    with override_settings(FOUNDRY_API_RATE_LIMIT="3/m"):
        for _ in range(3):
            assert alice.get("/api/v1/me").status_code == 200
        limited = alice.get("/api/v1/me")
        _error(limited, 429, "rate_limited")
        assert 1 <= int(limited["Retry-After"]) <= 60
        assert carol.get("/api/v1/me").status_code == 200  # per token


def test_actor_inspection_is_for_staff(
    two_orgs: dict[str, User], as_token: Callable[[User], Client]
) -> None:
    _error(as_token(two_orgs["alice"]).get("/api/v1/actors/instances"), 403, "forbidden")
    staff = two_orgs["carol"]
    staff.is_staff = True
    staff.save()
    client = as_token(staff)
    assert client.get("/api/v1/actors/instances").status_code == 200
    _error(client.get("/api/v1/actors/commands/424242"), 404, "not_found")
    _error(client.get("/api/v1/actors/instances/424242/commands"), 404, "not_found")


def test_schema_and_docs_are_served(db: None) -> None:
    schema = Client().get("/api/v1/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/v1/orgs", "/api/v1/orgs/{org}", "/api/v1/audit-log", "/api/v1/me",
            "/api/v1/tokens", "/api/v1/actors/instances"} <= set(paths)
    assert Client().get("/api/v1/docs").status_code == 200
