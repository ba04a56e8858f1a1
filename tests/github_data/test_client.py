"""Foundry's GitHub client against the local GitHub emulator, over real HTTP (no mocks).

The emulator fixtures (`make_emulator`, `make_client`, a session-wide App key) come from
this directory's conftest. No database is needed: the client only reads settings.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import jwt
import pytest

from github_data.client import (
    BranchData,
    GitHubAuthError,
    GitHubClient,
    GitHubConfigError,
    GitHubRateLimitError,
    GitHubRequestError,
    MemberData,
    PullRequestData,
    RepoData,
    find_installation_id,
    walk_organization,
)
from github_data.client.auth import JWT_BACKDATE_SECONDS, JWT_LIFETIME_SECONDS, AppJWTSigner
from github_data.emulator import GitHubEmulator
from github_data.emulator.generate import generate_keypair

MakeEmulator = Callable[..., GitHubEmulator]
MakeClient = Callable[..., GitHubClient]

TOKEN_ROUTE = "POST /app/installations/{installation_id}/access_tokens"
BRANCHES_ROUTE = "GET /repos/{owner}/{repo}/branches"


def total_requests(gh: GitHubEmulator) -> int:
    return sum(gh.request_counts().values())


# -- listing and pagination -------------------------------------------------------------------


def test_lists_installation_repositories_across_pages(
    make_emulator: MakeEmulator, make_client: MakeClient
) -> None:
    gh = make_emulator(repos=250, branches_per_repo=1, prs_per_repo=0, members=1)
    client = make_client(gh)

    repos = client.list_installation_repositories()

    assert [r.name for r in repos] == sorted(gh.dataset.repos)
    assert len(repos) == gh.dataset.counts()["repos"] == 250
    counts = gh.request_counts()
    assert counts["GET /installation/repositories"] == 3  # 100 + 100 + 50, via Link headers
    assert counts[TOKEN_ROUTE] == 1
    first, source = repos[0], gh.dataset.repos[repos[0].name]
    assert isinstance(first, RepoData)
    assert (first.id, first.full_name, first.owner_login) == (source.id, "acme/repo-001", "acme")
    assert (first.default_branch, first.private) == (source.default_branch, source.private)
    assert first.clone_url == f"{gh.base_url}/acme/repo-001.git"
    assert first.html_url == f"{gh.base_url}/acme/repo-001"
    assert first.node_id
    assert isinstance(first.updated_at, datetime) and first.updated_at.tzinfo is not None
    assert client.request_count == total_requests(gh) == 4


def test_branches_members_and_pulls_are_typed(
    make_emulator: MakeEmulator, make_client: MakeClient
) -> None:
    gh = make_emulator(repos=2, branches_per_repo=3, prs_per_repo=2, members=5)
    client = make_client(gh)
    source = gh.dataset.repos["repo-001"]

    branches = client.list_branches("acme", "repo-001")
    assert all(isinstance(b, BranchData) for b in branches)
    assert {b.name: b.sha for b in branches} == {b.name: b.sha for b in source.branches.values()}

    members = client.list_members("acme")
    assert all(isinstance(m, MemberData) for m in members)
    assert sorted(m.login for m in members) == sorted(gh.dataset.org.members)
    assert all(m.type == "User" and m.avatar_url and m.id for m in members)

    pulls = client.list_open_pull_requests("acme", "repo-001")
    assert sorted(p.number for p in pulls) == sorted(
        pr.number for pr in source.pulls.values() if pr.state == "open"
    )
    pr = pulls[0]
    expected = source.pulls[pr.number]
    assert isinstance(pr, PullRequestData)
    assert (pr.state, pr.head_ref, pr.head_sha, pr.base_ref) == (
        "open", expected.head, expected.head_sha, expected.base
    )
    assert pr.author_login == expected.user and pr.author_id and pr.author_avatar_url
    assert pr.created_at.tzinfo is not None and pr.merged_at is None and pr.closed_at is None
    assert client.get_pull_request("acme", "repo-001", pr.number) == pr


# -- authentication -------------------------------------------------------------------------


def test_installation_token_is_cached_across_calls(
    make_emulator: MakeEmulator, make_client: MakeClient
) -> None:
    gh = make_emulator(repos=3)
    client = make_client(gh)

    for _ in range(3):
        client.list_installation_repositories()
        client.list_members("acme")
        client.list_branches("acme", "repo-002")

    assert gh.request_counts()[TOKEN_ROUTE] == 1
    assert client.request_count == total_requests(gh) == 10


def test_a_revoked_cached_token_is_replaced_once(
    make_emulator: MakeEmulator, make_client: MakeClient
) -> None:
    gh = make_emulator(repos=1)
    client = make_client(gh)
    client.list_members("acme")
    assert gh.installation_id is not None
    gh.tokens.revoke_installation(gh.installation_id)  # GitHub now answers 401 to it

    assert len(client.list_members("acme")) == 5

    counts = gh.request_counts()
    assert counts[TOKEN_ROUTE] == 2
    assert counts["GET /orgs/{org}/members"] == 3  # ok, 401, ok with the new token
    assert client.request_count == total_requests(gh)


def test_threads_share_one_token_and_one_count(
    make_emulator: MakeEmulator, make_client: MakeClient
) -> None:
    gh = make_emulator(repos=8, branches_per_repo=2, prs_per_repo=0)
    client = make_client(gh)
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            results[name] = len(client.list_branches("acme", name))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in gh.dataset.repos]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors and results == {name: 2 for name in gh.dataset.repos}
    assert gh.request_counts()[TOKEN_ROUTE] == 1
    assert client.request_count == total_requests(gh) == 9


def test_app_jwt_is_valid_nine_minutes_issued_a_minute_ago(app_key_pem: str) -> None:
    token, expires_at = AppJWTSigner("12345", app_key_pem).sign(now=1_700_000_000)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims == {"iat": 1_700_000_000 - 60, "exp": 1_700_000_000 - 60 + 540, "iss": "12345"}
    assert (JWT_BACKDATE_SECONDS, JWT_LIFETIME_SECONDS) == (60, 9 * 60)
    assert expires_at == claims["exp"]


def test_find_installation_id_as_the_app(make_emulator: MakeEmulator) -> None:
    gh = make_emulator(repos=1)
    found = find_installation_id(
        "acme", app_id=str(gh.app_id), private_key_pem=gh.app_private_key_pem,
        base_url=gh.base_url,
    )
    assert found == gh.installation_id
    assert TOKEN_ROUTE not in gh.request_counts()  # App endpoints use the JWT itself


def test_a_private_key_that_is_not_the_apps_gives_a_clear_auth_error(
    make_emulator: MakeEmulator, make_client: MakeClient
) -> None:
    gh = make_emulator(repos=1)
    client = make_client(gh, private_key_pem=generate_keypair()[0])

    with pytest.raises(GitHubAuthError) as caught:
        client.list_installation_repositories()

    token_url = f"{gh.base_url}/app/installations/{gh.installation_id}/access_tokens"
    assert str(caught.value) == (
        f"POST {token_url} failed with 401: A JSON web token could not be decoded"
    )
    assert caught.value.status == 401
    assert gh.request_counts() == {TOKEN_ROUTE: 1}  # auth failures are not retried


def test_a_malformed_private_key_fails_at_construction(emulator: GitHubEmulator) -> None:
    with pytest.raises(GitHubConfigError, match="private_key_pem is not a usable PEM"):
        GitHubClient(
            installation_id=1, app_id="1", private_key_pem="-----BEGIN NONSENSE-----",
            base_url=emulator.base_url,
        )


def test_settings_are_read_at_construction_and_missing_ones_are_named(
    settings: Any, emulator: GitHubEmulator
) -> None:
    settings.GITHUB_API_URL = emulator.base_url
    settings.GITHUB_APP_ID = ""
    settings.GITHUB_APP_PRIVATE_KEY = ""
    settings.GITHUB_APP_PRIVATE_KEY_PATH = ""
    with pytest.raises(GitHubConfigError, match="GITHUB_APP_ID is not set"):
        GitHubClient(installation_id=1)

    settings.GITHUB_APP_ID = str(emulator.app_id)
    with pytest.raises(GitHubConfigError, match="GITHUB_APP_PRIVATE_KEY_PATH is set"):
        GitHubClient(installation_id=1)

    settings.GITHUB_APP_PRIVATE_KEY_PATH = str(emulator.data_dir / "missing.pem")
    with pytest.raises(GitHubConfigError, match="cannot read GITHUB_APP_PRIVATE_KEY_PATH"):
        GitHubClient(installation_id=1)

    settings.GITHUB_APP_PRIVATE_KEY_PATH = str(emulator.write_private_key())
    settings.GITHUB_PER_PAGE = 2
    assert emulator.installation_id is not None
    with GitHubClient(installation_id=emulator.installation_id) as client:
        assert len(client.list_installation_repositories()) == 6
    assert emulator.request_counts()["GET /installation/repositories"] == 3  # 2 + 2 + 2


# -- retries ------------------------------------------------------------------------------------


def test_server_errors_are_retried_until_success(
    make_emulator: MakeEmulator, make_client: MakeClient
) -> None:
    gh = make_emulator(repos=2)
    client = make_client(gh, retry_backoff=None)  # the real backoff: 0.5 s, then 1 s
    gh.faults.fail_next(2, status=502, path_prefix="/repos/")

    started = time.monotonic()
    branches = client.list_branches("acme", "repo-001")

    assert len(branches) == 4
    assert gh.request_counts()[BRANCHES_ROUTE] == 3
    assert 0.9 <= time.monotonic() - started < 5  # 0.5 s + 1 s, minus up to 25 % jitter
    assert client.request_count == total_requests(gh)


def test_a_failed_token_request_is_retried(
    make_emulator: MakeEmulator, make_client: MakeClient
) -> None:
    gh = make_emulator(repos=2)
    client = make_client(gh)
    gh.faults.fail_next(1, status=503, path_prefix="/app/installations/")

    assert len(client.list_members("acme")) == 5
    counts = gh.request_counts()
    assert counts[TOKEN_ROUTE] == 2 and counts["GET /orgs/{org}/members"] == 1


def test_secondary_rate_limit_waits_retry_after(
    make_emulator: MakeEmulator, make_client: MakeClient
) -> None:
    gh = make_emulator(repos=2)
    client = make_client(gh)
    client.list_members("acme")  # the token first, so the fault hits the API call
    gh.faults.secondary_rate_limit(1, retry_after=1)

    started = time.monotonic()
    assert len(client.list_branches("acme", "repo-001")) == 4

    assert time.monotonic() - started >= 0.95
    assert gh.request_counts()[BRANCHES_ROUTE] == 2


@pytest.mark.parametrize("status", [403, 429])
def test_primary_rate_limit_waits_for_the_reset(
    make_emulator: MakeEmulator, make_client: MakeClient, status: int
) -> None:
    gh = make_emulator(repos=2)
    client = make_client(gh)
    client.list_members("acme")
    gh.faults.exhaust_rate_limit(1, status=status, reset_in=1)

    started = time.monotonic()
    assert len(client.list_branches("acme", "repo-002")) == 4

    assert time.monotonic() - started >= 0.95  # X-RateLimit-Reset is ≤ 1 s away; waits ≥ 1 s
    assert gh.request_counts()[BRANCHES_ROUTE] == 2


def test_a_rate_limit_longer_than_the_wait_cap_fails_at_once(
    make_emulator: MakeEmulator, make_client: MakeClient
) -> None:
    gh = make_emulator(repos=2)
    client = make_client(gh, max_retry_wait=60)
    client.list_members("acme")
    gh.faults.exhaust_rate_limit(1, status=403, reset_in=3600)

    started = time.monotonic()
    with pytest.raises(GitHubRateLimitError) as caught:
        client.list_branches("acme", "repo-001")

    assert time.monotonic() - started < 1
    error = caught.value
    assert error.status == 403 and error.retry_after is not None
    assert 3500 < error.retry_after <= 3600
    assert str(error) == (
        f"GET {gh.base_url}/repos/acme/repo-001/branches?per_page=100 failed with 403: "
        f"API rate limit exceeded for installation ID {gh.installation_id}."
    )
    assert gh.request_counts()[BRANCHES_ROUTE] == 1


def test_errors_after_retries_are_exhausted_name_the_request(
    settings: Any, make_emulator: MakeEmulator, make_client: MakeClient
) -> None:
    settings.GITHUB_MAX_RETRIES = 2  # read when the client is built
    gh = make_emulator(repos=2)
    client = make_client(gh)
    gh.faults.fail_next(10, status=502, path_prefix="/repos/")

    with pytest.raises(GitHubRequestError) as caught:
        client.list_branches("acme", "repo-001")

    url = f"{gh.base_url}/repos/acme/repo-001/branches?per_page=100"
    assert str(caught.value) == f"GET {url} failed with 502: Server Error"
    assert (caught.value.method, caught.value.url, caught.value.status) == ("GET", url, 502)
    assert gh.request_counts()[BRANCHES_ROUTE] == 3  # 1 attempt + 2 retries
    assert client.request_count == total_requests(gh) == 4


def test_connection_errors_name_the_request(app_key_pem: str) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = GitHubClient(
        installation_id=7, app_id="1", private_key_pem=app_key_pem,
        base_url=f"http://127.0.0.1:{port}", max_retries=1, retry_backoff=0.01,
    )
    with client, pytest.raises(GitHubRequestError) as caught:
        client.list_installation_repositories()

    error = caught.value
    assert error.status is None and error.method == "POST"
    assert error.url == f"http://127.0.0.1:{port}/app/installations/7/access_tokens"
    assert str(error).startswith(f"POST {error.url} failed: ConnectError")
    assert client.request_count == 2  # the token request, retried once


# -- writing --------------------------------------------------------------------------------


def test_create_pull_request(make_emulator: MakeEmulator, make_client: MakeClient) -> None:
    gh = make_emulator(repos=2)
    client = make_client(gh)
    gh.dataset.create_branch("repo-001", "feature-x")
    gh.dataset.push("repo-001", "feature-x")

    created = client.create_pull_request(
        "acme", "repo-001", title="Add feature X", head="feature-x", base="main", body="Why"
    )

    assert (created.title, created.state, created.head_ref, created.base_ref) == (
        "Add feature X", "open", "feature-x", "main"
    )
    assert created.head_sha == gh.dataset.repos["repo-001"].branches["feature-x"].sha
    assert created.html_url == f"{gh.base_url}/acme/repo-001/pull/{created.number}"
    assert created.author_login == gh.dataset.bot_login
    assert gh.dataset.pull("repo-001", created.number).body == "Why"
    assert created in client.list_open_pull_requests("acme", "repo-001")


def test_create_pull_request_is_not_repeated_after_a_server_error(
    make_emulator: MakeEmulator, make_client: MakeClient
) -> None:
    gh = make_emulator(repos=2)
    client = make_client(gh)
    client.list_members("acme")
    gh.dataset.create_branch("repo-001", "feature-y")
    gh.dataset.push("repo-001", "feature-y")
    gh.faults.fail_next(1, status=502, path_prefix="/repos/acme/repo-001/pulls")

    with pytest.raises(GitHubRequestError) as caught:
        client.create_pull_request("acme", "repo-001", title="Y", head="feature-y", base="main")

    assert str(caught.value) == (
        f"POST {gh.base_url}/repos/acme/repo-001/pulls failed with 502: Server Error"
    )
    assert gh.request_counts()["POST /repos/{owner}/{repo}/pulls"] == 1


def test_client_errors_carry_githubs_details(
    make_emulator: MakeEmulator, make_client: MakeClient
) -> None:
    gh = make_emulator(repos=1)
    client = make_client(gh)
    gh.dataset.create_branch("repo-001", "empty")  # no commits beyond main

    with pytest.raises(GitHubRequestError) as caught:
        client.create_pull_request("acme", "repo-001", title="Empty", head="empty", base="main")
    assert str(caught.value) == (
        f"POST {gh.base_url}/repos/acme/repo-001/pulls failed with 422: "
        "Validation Failed (No commits between main and empty)"
    )

    with pytest.raises(GitHubRequestError) as caught:
        client.get_pull_request("acme", "repo-001", 999)
    assert caught.value.status == 404
    assert str(caught.value).startswith(
        f"GET {gh.base_url}/repos/acme/repo-001/pulls/999 failed with 404: "
    )
    assert gh.request_counts()["GET /repos/{owner}/{repo}/pulls/{number}"] == 1  # no retry


# -- the sync's walk ------------------------------------------------------------------------


def test_walk_organization_counts_match_the_emulator(
    make_emulator: MakeEmulator, make_client: MakeClient
) -> None:
    gh = make_emulator(repos=20, branches_per_repo=4, prs_per_repo=2, members=5)
    client = make_client(gh)

    counts = walk_organization(client, "acme")

    assert counts == {"repos": 20, "branches": 80, "members": 5, "pull_requests": 40}
    expected = gh.dataset.counts()
    assert counts["repos"] == expected["repos"] and counts["branches"] == expected["branches"]
    assert counts["members"] == expected["members"]
    assert counts["pull_requests"] == expected["open_pulls"]
    assert gh.request_counts() == {
        TOKEN_ROUTE: 1,
        "GET /installation/repositories": 1,
        BRANCHES_ROUTE: 20,
        "GET /orgs/{org}/members": 1,
        "GET /repos/{owner}/{repo}/pulls": 20,
    }
    assert client.request_count == total_requests(gh) == 43
