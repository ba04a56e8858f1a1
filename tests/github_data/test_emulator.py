"""The local GitHub emulator, exercised over real HTTP (httpx, githubkit, git) — no mocks."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from github_data.emulator import GitHubEmulator
from github_data.emulator.generate import generate_keypair

from .conftest import WebhookReceiver

MakeEmulator = Callable[..., GitHubEmulator]


def walk(client: httpx.Client, url: str, key: str | None = None, **params: Any) -> list[Any]:
    """Every item of a paginated endpoint, following `Link: rel="next"` (absolute URLs)."""
    items: list[Any] = []
    response = client.get(url, params=params)
    while True:
        assert response.status_code == 200, response.text
        page = response.json()
        items += page[key] if key else page
        next_link = response.links.get("next")
        if next_link is None:
            return items
        assert next_link["url"].startswith(str(client.base_url).rstrip("/"))
        response = client.get(next_link["url"])


def require_githubkit() -> None:
    """githubkit 0.16.1 imports names hishel 2.0 removed: say so instead of a bare ImportError."""
    try:
        import githubkit  # noqa: F401
    except ImportError as exc:
        pytest.fail(
            f"githubkit cannot be imported ({exc}); githubkit 0.16.1 needs hishel<2 (1.4.0)"
        )


def git(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def jwt_for(
    emulator: GitHubEmulator,
    key: str | None = None,
    iat: int | None = None,
    exp: int | None = None,
    iss: Any = None,
) -> str:
    now = int(time.time())
    claims = {
        "iat": now - 60 if iat is None else iat,
        "exp": now + 480 if exp is None else exp,
        "iss": str(emulator.app_id) if iss is None else iss,
    }
    return jwt.encode(claims, key or emulator.app_private_key_pem, algorithm="RS256")


# -- dataset ------------------------------------------------------------------------------


def test_large_dataset_counts_through_paginated_api(make_emulator: MakeEmulator) -> None:
    started = time.monotonic()
    gh = make_emulator(repos=160, branches_per_repo=10, prs_per_repo=3, members=30)
    assert time.monotonic() - started < 10
    headers = {"Authorization": f"Bearer {gh.installation_token()}"}
    with httpx.Client(base_url=gh.base_url, headers=headers, timeout=30) as client:
        repos = walk(client, "/installation/repositories", key="repositories", per_page=100)
        assert len(repos) == 160
        assert [r["name"] for r in repos[:2]] == ["repo-001", "repo-002"]
        assert len({r["id"] for r in repos}) == 160
        assert len(walk(client, "/orgs/acme/members", per_page=100)) == 30
        assert len(walk(client, "/orgs/acme/repos", per_page=100)) == 160
        branches = pulls = 0
        for repo in repos:
            names = [
                b["name"]
                for b in walk(client, f"/repos/acme/{repo['name']}/branches", per_page=100)
            ]
            assert "main" in names and len(names) == len(set(names)) == 10
            branches += len(names)
            open_pulls = walk(
                client, f"/repos/acme/{repo['name']}/pulls", state="open", per_page=100
            )
            assert all(
                p["state"] == "open" and p["base"]["ref"] == "main" and p["head"]["ref"] in names
                for p in open_pulls
            )
            assert len({p["head"]["ref"] for p in open_pulls}) == len(open_pulls)
            pulls += len(open_pulls)
    assert (branches, pulls) == (1600, 480)
    assert gh.dataset.counts()["open_pulls"] == 480


def test_dataset_is_deterministic_per_seed(make_emulator: MakeEmulator) -> None:
    def fingerprint(gh: GitHubEmulator) -> Any:
        ds = gh.dataset
        return (
            ds.org.id,
            ds.app.id,
            gh.installation_id,
            gh.oauth_client_id,
            [(m.login, m.id, m.email) for m in ds.members()],
            [
                (
                    r.id,
                    r.name,
                    r.private,
                    {b.name: b.sha for b in r.branches.values()},
                    [(p.number, p.title, p.user, p.head, p.created_at) for p in r.pulls.values()],
                )
                for r in ds.repos.values()
            ],
        )

    one, two, other = make_emulator(seed=7), make_emulator(seed=7), make_emulator(seed=8)
    assert fingerprint(one) == fingerprint(two)
    assert fingerprint(one) != fingerprint(other)
    repo = one.dataset.repo("repo-001")
    assert repo.default_branch == "main" and len(repo.branches) == 4
    assert all(re.fullmatch(r"[a-z]+-[a-z-]+", b) for b in repo.branches if b != "main")


# -- GitHub App JWT and installation tokens --------------------------------------------------


def test_app_jwt_is_checked(emulator: GitHubEmulator) -> None:
    other_key = generate_keypair()[0]
    now = int(time.time())
    bad = {
        "bad signature": jwt_for(emulator, key=other_key),
        "expired": jwt_for(emulator, iat=now - 700, exp=now - 100),
        "lives too long": jwt_for(emulator, iat=now - 60, exp=now + 600),
        "wrong issuer": jwt_for(emulator, iss="1"),
        "issued in the future": jwt_for(emulator, iat=now + 300, exp=now + 600),
        "not a jwt": "abc.def.ghi",
    }
    with httpx.Client(base_url=emulator.base_url) as client:
        for label, token in bad.items():
            response = client.get("/app", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, label
            assert response.json()["message"] and "documentation_url" in response.json(), label
        assert client.get("/app").status_code == 401
        ok = client.get("/app", headers={"Authorization": f"Bearer {jwt_for(emulator)}"})
        assert ok.status_code == 200
        assert ok.json()["id"] == emulator.app_id
        # Foundry's own shape: valid 9 minutes, issued 60 s in the past.
        foundry = jwt_for(emulator, iat=now - 60, exp=now + 480)
        assert client.get("/app", headers={"Authorization": f"Bearer {foundry}"}).status_code == 200


def test_installation_token_flow(emulator: GitHubEmulator) -> None:
    app_auth = {"Authorization": f"Bearer {emulator.app_jwt()}"}
    with httpx.Client(base_url=emulator.base_url) as client:
        installs = client.get("/app/installations", headers=app_auth).json()
        assert [i["id"] for i in installs] == [emulator.installation_id]
        org_install = client.get("/orgs/acme/installation", headers=app_auth).json()
        assert (
            org_install["id"] == emulator.installation_id
            and org_install["account"]["login"] == "acme"
        )
        created = client.post(
            f"/app/installations/{emulator.installation_id}/access_tokens", headers=app_auth
        )
        assert created.status_code == 201
        token, expires = created.json()["token"], created.json()["expires_at"]
        expires_in = time.mktime(time.strptime(expires, "%Y-%m-%dT%H:%M:%SZ")) - time.mktime(
            time.gmtime()
        )
        assert 3500 < expires_in <= 3600
        for scheme in ("token", "Bearer"):
            response = client.get(
                "/installation/repositories", headers={"Authorization": f"{scheme} {token}"}
            )
            assert response.status_code == 200 and response.json()["total_count"] == 6
        # A token is not a JWT and a JWT is not a token.
        assert client.get("/app", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        assert client.get("/orgs/acme", headers=app_auth).status_code == 401
        assert (
            client.get("/orgs/acme", headers={"Authorization": "token ghs_unknown"}).status_code
            == 401
        )
        # No credentials at all: the installation's endpoints need them (public data
        # does not, see test_anonymous_callers_see_public_data_only).
        assert client.get("/installation/repositories").status_code == 401
        emulator.tokens.expire(token)
        assert (
            client.get("/orgs/acme", headers={"Authorization": f"token {token}"}).status_code == 401
        )
        # Uninstalled: tokens stop working and no new ones are issued.
        fresh = emulator.installation_token()
        emulator.dataset.delete_installation()
        assert (
            client.get("/orgs/acme", headers={"Authorization": f"token {fresh}"}).status_code == 401
        )
        assert client.get("/orgs/acme/installation", headers=app_auth).status_code == 404
        gone = client.post(
            f"/app/installations/{org_install['id']}/access_tokens", headers=app_auth
        )
        assert gone.status_code == 404


# -- pagination, rate-limit headers, counters -------------------------------------------------


def test_pagination_link_headers(api: httpx.Client, emulator: GitHubEmulator) -> None:
    host = emulator.base_url
    first = api.get("/installation/repositories", params={"per_page": 2})
    assert first.json()["total_count"] == 6 and len(first.json()["repositories"]) == 2
    assert first.headers["Link"] == (
        f'<{host}/installation/repositories?per_page=2&page=2>; rel="next", '
        f'<{host}/installation/repositories?per_page=2&page=3>; rel="last"'
    )
    middle = api.get("/orgs/acme/repos", params={"per_page": 2, "page": 2, "type": "all"})
    assert set(middle.links) == {"prev", "next", "last", "first"}
    assert middle.links["first"]["url"] == f"{host}/orgs/acme/repos?per_page=2&page=1&type=all"
    last = api.get(middle.links["last"]["url"])
    assert set(last.links) == {"prev", "first"}
    assert [r["name"] for r in last.json()] == ["repo-005", "repo-006"]
    assert "Link" not in api.get("/orgs/acme/repos").headers  # one page at the default 30
    assert len(api.get("/orgs/acme/repos", params={"per_page": 500}).json()) == 6  # capped at 100
    assert api.get("/orgs/acme/repos", params={"page": 9}).json() == []


def test_rate_limit_headers_request_ids_and_counters(
    api: httpx.Client, emulator: GitHubEmulator
) -> None:
    emulator.reset_counters()
    remaining = []
    for path in ("/orgs/acme", "/orgs/acme/members", "/orgs/acme/members", "/nowhere"):
        response = api.get(path)
        for header in (
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Used",
            "X-RateLimit-Reset",
            "X-RateLimit-Resource",
            "X-GitHub-Request-Id",
        ):
            assert header in response.headers, (path, header)
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert remaining[:3] == [4999, 4998, 4997]
    missing = api.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json()["message"] == "Not Found" and "documentation_url" in missing.json()
    counts = emulator.request_counts()
    assert counts["GET /orgs/{org}"] == 1 and counts["GET /orgs/{org}/members"] == 2
    assert counts["GET (unmatched)"] == 2
    over_http = api.get("/_emulator/requests").json()
    assert over_http["counts"]["GET /orgs/{org}/members"] == 2
    rate = api.get("/rate_limit").json()
    assert rate["resources"]["core"]["used"] == 3 and rate["rate"]["limit"] == 5000
    api.post("/_emulator/reset_counters")
    assert emulator.request_counts() == {}


# -- failure injection --------------------------------------------------------------------------


def test_server_errors_then_success(api: httpx.Client, emulator: GitHubEmulator) -> None:
    emulator.faults.fail_next(2, status=502, path_prefix="/repos/")
    assert api.get("/orgs/acme").status_code == 200  # another prefix: untouched
    assert [api.get("/repos/acme/repo-001").status_code for _ in range(3)] == [502, 502, 200]
    answer = api.post("/_emulator/faults", json={"action": "fail_next", "count": 1, "status": 503})
    assert answer.json()["rules"][0]["status"] == 503
    failed = api.get("/orgs/acme/members")
    assert failed.status_code == 503 and "X-GitHub-Request-Id" in failed.headers
    assert api.get("/orgs/acme/members").status_code == 200


def test_rate_limits_and_latency(api: httpx.Client, emulator: GitHubEmulator) -> None:
    emulator.faults.secondary_rate_limit(1, retry_after=2)
    limited = api.get("/orgs/acme")
    assert limited.status_code == 403 and limited.headers["Retry-After"] == "2"
    assert "secondary rate limit" in limited.json()["message"]
    assert api.get("/orgs/acme").status_code == 200

    api.post(
        "/_emulator/faults",
        json={"action": "exhaust_rate_limit", "count": 1, "status": 429, "reset_in": 30},
    )
    exhausted = api.get("/orgs/acme")
    assert exhausted.status_code == 429 and exhausted.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < int(exhausted.headers["X-RateLimit-Reset"]) - time.time() <= 31
    assert "API rate limit exceeded" in exhausted.json()["message"]
    assert api.get("/orgs/acme").headers["X-RateLimit-Remaining"] != "0"

    emulator.faults.set_latency(0.3)
    started = time.monotonic()
    assert api.get("/orgs/acme").status_code == 200
    assert time.monotonic() - started >= 0.3
    api.post("/_emulator/faults", json={"action": "clear"})
    assert emulator.faults.latency == 0


# -- git over HTTP -------------------------------------------------------------------------------


def test_git_clone_gives_the_shas_the_api_reports(
    api: httpx.Client, emulator: GitHubEmulator, tmp_path: Path
) -> None:
    repo = api.get("/repos/acme/repo-003").json()
    assert repo["clone_url"] == f"{emulator.base_url}/acme/repo-003.git"
    api_shas = {b["name"]: b["commit"]["sha"] for b in walk(api, "/repos/acme/repo-003/branches")}
    git(
        "clone",
        "-q",
        emulator.git_url("repo-003", emulator.installation_token()),
        str(tmp_path / "c"),
    )
    refs = git(
        "for-each-ref",
        "--format=%(refname:strip=3) %(objectname)",
        "refs/remotes/origin",
        cwd=tmp_path / "c",
    )
    cloned = dict(line.split() for line in refs.splitlines() if not line.startswith("HEAD"))
    assert cloned == api_shas
    assert (tmp_path / "c" / "README.md").read_text().startswith("# repo-003")
    detail = api.get("/repos/acme/repo-003/branches/main").json()
    assert (
        detail["commit"]["sha"]
        == api_shas["main"]
        == git("rev-parse", "HEAD", cwd=tmp_path / "c").strip()
    )


def test_git_push_over_http_updates_the_api(
    make_emulator: MakeEmulator, webhook_receiver: WebhookReceiver, tmp_path: Path
) -> None:
    gh = make_emulator(webhook_url=webhook_receiver.url, git_require_auth=True)
    token = gh.installation_token()
    pr = gh.dataset.pull("repo-001", 1)
    clone = tmp_path / "c"
    with pytest.raises(AssertionError):  # anonymous access refused when auth is required
        git("ls-remote", gh.git_url("repo-001"))
    git("clone", "-q", "--branch", pr.head, gh.git_url("repo-001", token), str(clone))
    (clone / "change.txt").write_text("pushed over http\n")
    git("add", ".", cwd=clone)
    git(
        "-c",
        "user.name=Dev",
        "-c",
        "user.email=dev@example.com",
        "commit",
        "-qm",
        "Change",
        cwd=clone,
    )
    git("push", "-q", "origin", f"HEAD:{pr.head}", "HEAD:refs/heads/pushed-branch", cwd=clone)
    head = git("rev-parse", "HEAD", cwd=clone).strip()
    with httpx.Client(base_url=gh.base_url, headers={"Authorization": f"token {token}"}) as client:
        assert (
            client.get(f"/repos/acme/repo-001/branches/{pr.head}").json()["commit"]["sha"] == head
        )
        assert (
            client.get("/repos/acme/repo-001/branches/pushed-branch").json()["commit"]["sha"]
            == head
        )
        assert client.get("/repos/acme/repo-001/pulls/1").json()["head"]["sha"] == head
    events = webhook_receiver.events()
    assert ("push", None) in events and ("create", None) in events
    assert ("pull_request", "synchronize") in events
    git("push", "-q", "origin", ":pushed-branch", cwd=clone)
    assert "pushed-branch" not in gh.dataset.repo("repo-001").branches
    assert ("delete", None) in webhook_receiver.events()


# -- OAuth ---------------------------------------------------------------------------------------


def test_oauth_authorize_token_user(emulator: GitHubEmulator) -> None:
    callback = "http://127.0.0.1:9/accounts/github/callback?next=%2F"
    first_member = emulator.dataset.members()[0]
    with httpx.Client(base_url=emulator.base_url) as client:
        # A preset user is signed in at once (without one, a browser page asks:
        # see test_emulator_oauth.py).
        client.post("/_emulator/oauth", json={"user": first_member.login})
        params = {
            "client_id": emulator.oauth_client_id,
            "redirect_uri": callback,
            "state": "st-1",
            "scope": "read:org repo",
        }
        redirect = client.get("/login/oauth/authorize", params=params)
        assert redirect.status_code == 302
        location = urlsplit(redirect.headers["Location"])
        assert location.path == "/accounts/github/callback"
        query = parse_qs(location.query)
        assert query["state"] == ["st-1"] and query["next"] == ["/"]
        code = query["code"][0]
        exchange = {
            "client_id": emulator.oauth_client_id,
            "client_secret": emulator.oauth_client_secret,
            "code": code,
        }
        token = client.post(
            "/login/oauth/access_token", data=exchange, headers={"Accept": "application/json"}
        ).json()
        # Granted scopes come back comma-joined, as GitHub sends them.
        assert token["token_type"] == "bearer" and token["scope"] == "read:org,repo"
        again = client.post(
            "/login/oauth/access_token", json=exchange, headers={"Accept": "application/json"}
        )
        assert again.status_code == 200 and again.json()["error"] == "bad_verification_code"
        user_auth = {"Authorization": f"token {token['access_token']}"}
        me = client.get("/user", headers=user_auth).json()
        assert (me["login"], me["email"]) == (first_member.login, first_member.email)
        assert [o["login"] for o in client.get("/user/orgs", headers=user_auth).json()] == ["acme"]
        membership = client.get("/user/memberships/orgs", headers=user_auth).json()[0]
        assert (membership["role"], membership["organization"]["login"]) == ("admin", "acme")
        assert client.get("/installation/repositories", headers=user_auth).status_code == 403

        # Form-encoded answer without Accept: json; a wrong secret; a login hint; denial.
        other = emulator.dataset.members()[2].login
        code2 = parse_qs(
            urlsplit(
                client.get("/login/oauth/authorize", params={**params, "login": other}).headers[
                    "Location"
                ]
            ).query
        )["code"][0]
        wrong = client.post(
            "/login/oauth/access_token", data={**exchange, "code": code2, "client_secret": "x"}
        )
        assert parse_qs(wrong.text)["error"] == ["incorrect_client_credentials"]
        code3 = parse_qs(
            urlsplit(
                client.get("/login/oauth/authorize", params={**params, "login": other}).headers[
                    "Location"
                ]
            ).query
        )["code"][0]
        form = parse_qs(
            client.post("/login/oauth/access_token", data={**exchange, "code": code3}).text
        )
        assert (
            client.get(
                "/user", headers={"Authorization": f"token {form['access_token'][0]}"}
            ).json()["login"]
            == other
        )
        client.post("/_emulator/oauth", json={"deny": True})
        denied = parse_qs(
            urlsplit(client.get("/login/oauth/authorize", params=params).headers["Location"]).query
        )
        assert (
            denied["error"] == ["access_denied"]
            and denied["state"] == ["st-1"]
            and "code" not in denied
        )


# -- webhooks --------------------------------------------------------------------------------


def test_webhook_signature_redelivery_and_bad_signature(
    make_emulator: MakeEmulator, webhook_receiver: WebhookReceiver
) -> None:
    gh = make_emulator(webhook_url=webhook_receiver.url, webhook_secret="s3cret")
    head = list(gh.dataset.repo("repo-002").branches)[-1]
    pr = gh.dataset.open_pull_request("repo-002", head, title="Try it")
    received = webhook_receiver.received[-1]
    assert received.path == "/webhooks/github"
    assert received.headers["X-GitHub-Event"] == "pull_request"
    assert received.headers["Content-Type"] == "application/json"
    expected = "sha256=" + hmac.new(b"s3cret", received.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(received.headers["X-Hub-Signature-256"], expected)
    delivery_id = received.headers["X-GitHub-Delivery"]
    assert uuid.UUID(delivery_id)
    payload = json.loads(received.body)
    assert payload["action"] == "opened" and payload["number"] == pr.number
    assert payload["installation"]["id"] == gh.installation_id
    assert (
        payload["organization"]["login"] == "acme" and payload["repository"]["name"] == "repo-002"
    )
    assert payload["pull_request"]["head"]["ref"] == head and payload["sender"]["login"]

    webhook_receiver.status = 500
    again = gh.webhooks.redeliver(delivery_id)
    assert again.status == 500 and again.redelivery
    assert webhook_receiver.received[-1].headers["X-GitHub-Delivery"] == delivery_id
    assert webhook_receiver.received[-1].body == received.body

    webhook_receiver.status = 204
    forged = gh.webhooks.send("ping", {"zen": "Keep it logically awesome."}, bad_signature=True)
    assert forged.status == 204
    last = webhook_receiver.received[-1]
    good = "sha256=" + hmac.new(b"s3cret", last.body, hashlib.sha256).hexdigest()
    assert last.headers["X-Hub-Signature-256"] != good
    over_http = httpx.post(
        f"{gh.base_url}/_emulator/webhooks",
        json={"action": "redeliver", "delivery_id": delivery_id},
    )
    assert over_http.json()["status"] == 204


def test_mutations_emit_webhooks_githubkit_can_parse(
    make_emulator: MakeEmulator, webhook_receiver: WebhookReceiver
) -> None:
    require_githubkit()
    from githubkit.webhooks import parse_obj, verify

    gh = make_emulator(webhook_url=webhook_receiver.url)
    ds = gh.dataset
    ds.create_branch("repo-002", "feature-x")
    ds.push("repo-002", "feature-x")
    pr = ds.open_pull_request("repo-002", "feature-x", title="X")
    ds.edit_pull_request("repo-002", pr.number, title="X, renamed")
    ds.close_pull_request("repo-002", pr.number)
    ds.reopen_pull_request("repo-002", pr.number)
    ds.merge_pull_request("repo-002", pr.number)
    ds.close_pull_request("repo-002", 1)
    ds.delete_branch("repo-002", "feature-x")
    ds.add_member("new-dev")
    ds.remove_member("new-dev")
    ds.create_repository("fresh")
    ds.delete_installation()
    ds.push("repo-001", "main")  # not installed: no delivery
    ds.create_installation()
    events = webhook_receiver.events()
    for expected in [
        ("create", None),
        ("push", None),
        ("pull_request", "opened"),
        ("pull_request", "edited"),
        ("pull_request", "closed"),
        ("pull_request", "reopened"),
        ("delete", None),
        ("organization", "member_added"),
        ("organization", "member_removed"),
        ("repository", "created"),
        ("installation_repositories", "added"),
        ("installation", "deleted"),
        ("installation", "created"),
    ]:
        assert expected in events, expected
    merged = [
        json.loads(r.body)
        for r in webhook_receiver.received
        if r.headers["X-GitHub-Event"] == "pull_request"
        and json.loads(r.body)["action"] == "closed"
    ]
    assert [m["pull_request"]["merged"] for m in merged] == [False, True, False]
    deleted_at = events.index(("installation", "deleted"))
    assert events[deleted_at + 1] == ("installation", "created")
    for item in webhook_receiver.received:
        assert verify(gh.webhook_secret, item.body, item.headers["X-Hub-Signature-256"])
        parse_obj(
            item.headers["X-GitHub-Event"], json.loads(item.body)
        )  # raises if the shape is off


# -- mutations through the API and the control endpoints -------------------------------------


def test_mutations_are_reflected_in_the_api(api: httpx.Client, emulator: GitHubEmulator) -> None:
    def mutate(**body: Any) -> Any:
        response = api.post("/_emulator/mutate", json=body)
        assert response.status_code == 200, response.text
        return response.json()["result"]

    main_before = api.get("/repos/acme/repo-001/branches/main").json()["commit"]["sha"]
    mutate(op="create_branch", repo="repo-001", name="feature-new")
    sha = mutate(op="push", repo="repo-001", branch="feature-new", files={"notes.md": "hi\n"})[
        "sha"
    ]
    assert api.get("/repos/acme/repo-001/branches/feature-new").json()["commit"]["sha"] == sha

    created = api.post(
        "/repos/acme/repo-001/pulls", json={"title": "New", "head": "feature-new", "base": "main"}
    )
    assert created.status_code == 201
    number = created.json()["number"]
    assert created.json()["user"]["type"] == "Bot" and created.json()["head"]["sha"] == sha
    duplicate = api.post(
        "/repos/acme/repo-001/pulls", json={"title": "Again", "head": "feature-new", "base": "main"}
    )
    assert (
        duplicate.status_code == 422
        and "already exists" in duplicate.json()["errors"][0]["message"]
    )
    missing = api.post(
        "/repos/acme/repo-001/pulls",
        json={"title": "Nope", "head": "no-such-branch", "base": "main"},
    )
    assert missing.status_code == 422

    merged = mutate(op="merge_pr", repo="repo-001", number=number)
    assert merged["merged"] and merged["state"] == "closed" and merged["merged_at"]
    main_after = api.get("/repos/acme/repo-001/branches/main").json()["commit"]["sha"]
    assert main_after != main_before and main_after == merged["merge_commit_sha"]
    mutate(op="close_pr", repo="repo-001", number=1)
    assert [p["number"] for p in api.get("/repos/acme/repo-001/pulls").json()] == [2]
    assert {p["number"] for p in walk(api, "/repos/acme/repo-001/pulls", state="closed")} == {
        1,
        number,
    }
    assert len(api.get("/repos/acme/repo-001/pulls", params={"state": "all"}).json()) == 3
    mutate(op="edit_pr", repo="repo-001", number=2, title="Renamed")
    assert api.get("/repos/acme/repo-001/pulls/2").json()["title"] == "Renamed"

    mutate(op="delete_branch", repo="repo-001", name="feature-new")
    assert api.get("/repos/acme/repo-001/branches/feature-new").status_code == 404
    assert (
        api.post(
            "/_emulator/mutate", json={"op": "delete_branch", "repo": "repo-001", "name": "main"}
        ).status_code
        == 422
    )

    mutate(op="add_member", login="new-person", name="New Person")
    assert "new-person" in [m["login"] for m in walk(api, "/orgs/acme/members")]
    assert api.get("/users/new-person").json()["name"] == "New Person"
    mutate(op="remove_member", login="new-person")
    assert "new-person" not in [m["login"] for m in walk(api, "/orgs/acme/members")]

    state = api.get("/_emulator/state").json()["counts"]
    assert state["repos"] == 6 and state["members"] == 5 and state["merged_pulls"] == 1
    app = api.get("/_emulator/app").json()
    assert (
        app["private_key_pem"] == emulator.app_private_key_pem
        and app["installation_id"] == emulator.installation_id
    )
    assert app["oauth_client_secret"] == emulator.oauth_client_secret and app["webhook_secret"]
    mutate(op="delete_installation")
    assert api.get("/orgs/acme").status_code == 401  # the installation token died with it


# -- githubkit ---------------------------------------------------------------------------------


def test_githubkit_parses_the_emulators_answers(emulator: GitHubEmulator) -> None:
    require_githubkit()
    from githubkit import AppAuthStrategy, AppInstallationAuthStrategy, GitHub, TokenAuthStrategy

    app_id, key = str(emulator.app_id), emulator.app_private_key_pem
    app = GitHub(AppAuthStrategy(app_id, key), base_url=emulator.base_url)
    integration = app.rest.apps.get_authenticated().parsed_data
    assert integration is not None and integration.id == emulator.app_id
    assert app.rest.apps.get_org_installation("acme").parsed_data.id == emulator.installation_id
    assert len(app.rest.apps.list_installations().parsed_data) == 1

    assert emulator.installation_id is not None
    gh = GitHub(
        AppInstallationAuthStrategy(app_id, key, emulator.installation_id),
        base_url=emulator.base_url,
    )
    repos = list(
        gh.rest.paginate(
            gh.rest.apps.list_repos_accessible_to_installation,
            per_page=4,
            map_func=lambda r: r.parsed_data.repositories,
        )
    )
    assert [r.name for r in repos] == [f"repo-{i:03d}" for i in range(1, 7)]
    assert gh.rest.orgs.get("acme").parsed_data.login == "acme"
    assert len(gh.rest.repos.list_for_org("acme").parsed_data) == 6
    full = gh.rest.repos.get("acme", "repo-001").parsed_data
    assert full.default_branch == "main" and full.clone_url.endswith("/acme/repo-001.git")
    branches = gh.rest.repos.list_branches("acme", "repo-001").parsed_data
    assert {b.name for b in branches} == set(emulator.dataset.repo("repo-001").branches)
    assert (
        gh.rest.repos.get_branch("acme", "repo-001", "main").parsed_data.commit.sha
        == branches[0].commit.sha
    )
    members: list[Any] = list(gh.rest.paginate(gh.rest.orgs.list_members, org="acme", per_page=2))
    assert len(members) == 5
    assert gh.rest.users.get_by_username(members[0].login).parsed_data.name
    pulls = gh.rest.pulls.list("acme", "repo-001", state="open", per_page=100).parsed_data
    assert len(pulls) == 2 and all(p.base.ref == "main" for p in pulls)
    assert gh.rest.pulls.get("acme", "repo-001", pulls[0].number).parsed_data.mergeable is True
    free = [
        b.name for b in branches if b.name != "main" and b.name not in {p.head.ref for p in pulls}
    ][0]
    opened = gh.rest.pulls.create(
        "acme", "repo-001", head=free, base="main", title="From githubkit"
    ).parsed_data
    assert opened.state == "open" and opened.head.ref == free
    assert gh.rest.rate_limit.get().parsed_data.resources.core.limit == 5000

    user = GitHub(
        TokenAuthStrategy(emulator.user_token(members[1].login)), base_url=emulator.base_url
    )
    assert user.rest.users.get_authenticated().parsed_data.login == members[1].login
    orgs: list[Any] = user.rest.orgs.list_for_authenticated_user().parsed_data
    assert [o.login for o in orgs] == ["acme"]
    memberships: list[Any] = user.rest.orgs.list_memberships_for_authenticated_user().parsed_data
    assert memberships[0].role == "member"


# -- the management command ----------------------------------------------------------------------


def test_management_command_serves_until_stopped(tmp_path: Path) -> None:
    manage = Path(__file__).resolve().parents[2] / "manage.py"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(manage),
            "github_emulator",
            "--port",
            "0",
            "--repos",
            "2",
            "--data-dir",
            str(tmp_path),
            "--seed",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or "Ctrl-C" not in lines[-1]:
            line = proc.stdout.readline()
            assert line, (
                f"command ended early: {''.join(lines)} {proc.stderr.read() if proc.stderr else ''}"
            )
            lines.append(line)
        base_url = re.search(r"listening on (http://\S+)", lines[0]).group(1)  # type: ignore[union-attr]
        assert (
            (tmp_path / "app-private-key.pem").read_text().startswith("-----BEGIN RSA PRIVATE KEY")
        )
        state = httpx.get(f"{base_url}/_emulator/state").json()
        assert state["counts"]["repos"] == 2
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0
