"""`GitHubClient`: the GitHub REST calls Foundry's sync makes, as a GitHub App installation.

Built on githubkit's sync API (the sync runs in Celery workers, no event loop). githubkit
gives us the endpoints, `Link`-header pagination and the retry loop; this module adds
Foundry's settings, its JWT/token handling (`auth.py`), its retry policy (`retry.py`),
request counting (`transport.py`), errors that name the failed request (`errors.py`) and
small typed results (`data.py`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from django.conf import settings
from githubkit import GitHub, Response
from githubkit.cache import MemCacheStrategy
from githubkit.exception import GitHubException

from .auth import AppJWTSigner, FoundryAppAuthStrategy
from .commit_data import CommitData, ComparisonData
from .data import BranchData, MemberData, PullRequestData, RepoData
from .errors import GitHubConfigError, GitHubError, GitHubRequestError, translate
from .retry import RetryPolicy
from .transport import CountingTransport

T = TypeVar("T")

USER_AGENT = "Foundry (githubkit)"
# githubkit's default is no timeout at all; a hung connection must not hold a worker.
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
RETRY_BACKOFF_SECONDS = 0.5  # first wait after a 5xx; doubles per retry


def _json_list(response: Response[Any]) -> list[Any]:
    data = response.json()
    if not isinstance(data, list):
        raise GitHubRequestError(
            response.raw_request.method, str(response.raw_request.url), response.status_code,
            f"expected a JSON list, got {type(data).__name__}",
        )
    return data


def _repositories(response: Response[Any]) -> list[Any]:
    return list(response.json().get("repositories") or [])


class _SharedClientGitHub(GitHub[FoundryAppAuthStrategy]):
    """githubkit's `GitHub` with one long-lived httpx client.

    Outside `with github:` githubkit opens (and closes) an httpx client per request, and
    its `with` is per thread/context. One client kept for our lifetime reuses keep-alive
    connections from any thread, and one auth flow keeps one token.
    """

    def __init__(self, auth: FoundryAppAuthStrategy, **kwargs: Any) -> None:
        super().__init__(auth, **kwargs)
        self._shared_client = self._create_sync_client()

    @contextmanager
    def get_sync_client(self) -> Iterator[httpx.Client]:
        yield self._shared_client

    def close(self) -> None:
        self._shared_client.close()


def _setting(name: str) -> Any:
    return getattr(settings, name, None)


def resolve_app_id(app_id: str | int | None) -> str:
    value = app_id if app_id not in (None, "") else _setting("GITHUB_APP_ID")
    if value in (None, ""):
        raise GitHubConfigError(
            "GITHUB_APP_ID is not set: the GitHub App's id is needed to sign its JWT"
        )
    return str(value)


def resolve_private_key(private_key_pem: str | None) -> str:
    """The App's private key: the argument, GITHUB_APP_PRIVATE_KEY, or the file at
    GITHUB_APP_PRIVATE_KEY_PATH; checked here so a bad key fails at start, not mid-sync."""
    source = "private_key_pem"
    pem = private_key_pem
    if not pem:
        pem, source = _setting("GITHUB_APP_PRIVATE_KEY"), "GITHUB_APP_PRIVATE_KEY"
    if not pem:
        path = _setting("GITHUB_APP_PRIVATE_KEY_PATH")
        if not path:
            raise GitHubConfigError(
                "Neither GITHUB_APP_PRIVATE_KEY nor GITHUB_APP_PRIVATE_KEY_PATH is set: "
                "the GitHub App's private key (PEM) is needed to sign its JWT"
            )
        source = f"GITHUB_APP_PRIVATE_KEY_PATH ({path})"
        try:
            pem = Path(path).read_text()
        except OSError as exc:
            raise GitHubConfigError(f"cannot read {source}: {exc}") from exc
    if "\\n" in pem and "\n" not in pem.strip():
        pem = pem.replace("\\n", "\n")  # a PEM squeezed onto one line of an env file
    try:
        load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise GitHubConfigError(
            f"{source} is not a usable PEM private key for the GitHub App: {exc}"
        ) from exc
    return pem


def resolve_base_url(base_url: str | None) -> str:
    value = base_url or _setting("GITHUB_API_URL")
    if not value:
        raise GitHubConfigError("GITHUB_API_URL is not set (https://api.github.com for GitHub)")
    return str(value).rstrip("/")


class GitHubClient:
    """GitHub as one App installation. Thread-safe; `close()` it (or use `with`)."""

    def __init__(
        self,
        *,
        installation_id: int | None,
        app_id: str | int | None = None,
        private_key_pem: str | None = None,
        base_url: str | None = None,
        max_retries: int | None = None,
        max_retry_wait: float | None = None,
        retry_backoff: float | None = None,
    ) -> None:
        """Defaults come from settings, read now (tests and workers override settings).

        `installation_id=None` authenticates as the App itself (App-only endpoints, as
        `find_installation_id` uses); the installation methods then fail.
        """
        self.base_url = resolve_base_url(base_url)
        self.installation_id = installation_id
        signer = AppJWTSigner(resolve_app_id(app_id), resolve_private_key(private_key_pem))
        self.per_page = max(1, min(100, int(_setting("GITHUB_PER_PAGE") or 100)))
        policy = RetryPolicy(
            max_retries=int(
                max_retries if max_retries is not None else _setting("GITHUB_MAX_RETRIES") or 0
            ),
            max_wait=float(
                max_retry_wait
                if max_retry_wait is not None
                else _setting("GITHUB_MAX_RETRY_WAIT_SECONDS") or 0
            ),
            backoff=RETRY_BACKOFF_SECONDS if retry_backoff is None else retry_backoff,
        )
        self._transport = CountingTransport()
        self._github = _SharedClientGitHub(
            FoundryAppAuthStrategy(signer, installation_id),
            base_url=self.base_url,
            user_agent=USER_AGENT,
            timeout=TIMEOUT,
            transport=self._transport,
            http_cache=False,  # every sync must see GitHub now, and count real requests
            cache_strategy=MemCacheStrategy(),  # githubkit's default is process-wide
            auto_retry=policy,
        )
        self._closed = False
        self._close_lock = threading.Lock()

    # -- bookkeeping ------------------------------------------------------------------------

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far: token requests, pages and retries included."""
        return self._transport.count

    def close(self) -> None:
        with self._close_lock:
            if not self._closed:
                self._closed = True
                self._github.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<GitHubClient {self.base_url} installation={self.installation_id}>"

    @contextmanager
    def _call(self, method: str, path: str) -> Iterator[None]:
        """Turn githubkit's exceptions into ours; `method path` names the call when the
        exception does not carry its request."""
        try:
            yield
        except GitHubException as exc:
            raise translate(exc, method, f"{self.base_url}{path}") from exc

    def _all(
        self,
        method: str,
        path: str,
        endpoint: Callable[..., Any],
        items: Callable[[Response[Any]], list[Any]],
        parse: Callable[[Any], T],
        *args: Any,
        **params: Any,
    ) -> list[T]:
        """Every item of a list endpoint, following `Link: rel="next"` pages."""
        with self._call(method, path):
            pages: Iterable[Any] = self._github.rest.paginate(
                endpoint, items, *args, per_page=self.per_page, **params
            )
            return [parse(item) for item in pages]

    # -- the endpoints the sync calls --------------------------------------------------------

    def list_installation_repositories(self) -> list[RepoData]:
        """`GET /installation/repositories`: every repository the installation can see."""
        rest = self._github.rest
        return self._all(
            "GET", "/installation/repositories",
            rest.apps.list_repos_accessible_to_installation, _repositories, RepoData.from_json,
        )

    def list_branches(self, owner: str, repo: str) -> list[BranchData]:
        """`GET /repos/{owner}/{repo}/branches`."""
        return self._all(
            "GET", f"/repos/{owner}/{repo}/branches",
            self._github.rest.repos.list_branches, _json_list, BranchData.from_json, owner, repo,
        )

    def list_members(self, org: str) -> list[MemberData]:
        """`GET /orgs/{org}/members`."""
        return self._all(
            "GET", f"/orgs/{org}/members",
            self._github.rest.orgs.list_members, _json_list, MemberData.from_json, org,
        )

    def list_open_pull_requests(self, owner: str, repo: str) -> list[PullRequestData]:
        """`GET /repos/{owner}/{repo}/pulls?state=open`."""
        return self._all(
            "GET", f"/repos/{owner}/{repo}/pulls",
            self._github.rest.pulls.list, _json_list, PullRequestData.from_json, owner, repo,
            state="open",
        )

    def open_pull_requests_from(self, owner: str, repo: str, head: str) -> list[PullRequestData]:
        """`GET /repos/{owner}/{repo}/pulls?state=open&head=<owner>:<branch>`."""
        with self._call("GET", f"/repos/{owner}/{repo}/pulls"):
            response = self._github.rest.pulls.list(owner, repo, head=head, state="open")
        return [PullRequestData.from_json(p) for p in _json_list(response)]

    def get_pull_request(self, owner: str, repo: str, number: int) -> PullRequestData:
        """`GET /repos/{owner}/{repo}/pulls/{number}`."""
        with self._call("GET", f"/repos/{owner}/{repo}/pulls/{number}"):
            response = self._github.rest.pulls.get(owner, repo, number)
        return PullRequestData.from_json(response.json())

    def create_pull_request(
        self, owner: str, repo: str, *, title: str, head: str, base: str, body: str = ""
    ) -> PullRequestData:
        """`POST /repos/{owner}/{repo}/pulls`. Not retried on 5xx: GitHub may have made it."""
        with self._call("POST", f"/repos/{owner}/{repo}/pulls"):
            response = self._github.rest.pulls.create(
                owner, repo, title=title, head=head, base=base, body=body
            )
        return PullRequestData.from_json(response.json())

    def get_commit(self, owner: str, repo: str, ref: str) -> CommitData:
        """`GET /repos/{owner}/{repo}/commits/{ref}`: one commit (a sha or a branch name),
        with its stats and changed files (against its first parent)."""
        with self._call("GET", f"/repos/{owner}/{repo}/commits/{ref}"):
            response = self._github.rest.repos.get_commit(owner, repo, ref)
        return CommitData.from_json(response.json())

    def compare_commits(self, owner: str, repo: str, base: str, head: str) -> ComparisonData:
        """`GET /repos/{owner}/{repo}/compare/{base}...{head}`: ahead/behind, merge base,
        head's commits (the 250 most recent) and the files changed since the merge base."""
        basehead = f"{base}...{head}"
        with self._call("GET", f"/repos/{owner}/{repo}/compare/{basehead}"):
            response = self._github.rest.repos.compare_commits(owner, repo, basehead)
        return ComparisonData.from_json(response.json())

    def get_org_installation_id(self, org: str) -> int:
        """The App's installation on `org` (an organization or a personal account), as the
        App itself (JWT): `GET /orgs/{org}/installation`, then `/users/{org}/installation`."""
        try:
            with self._call("GET", f"/orgs/{org}/installation"):
                response = self._github.rest.apps.get_org_installation(org)
        except GitHubRequestError as exc:
            if exc.status != 404:
                raise
            with self._call("GET", f"/users/{org}/installation"):
                response = self._github.rest.apps.get_user_installation(org)
        return int(response.json()["id"])

    def create_installation_token(self) -> str:
        """A fresh installation token, as the App itself (JWT):
        `POST /app/installations/{id}/access_tokens`. For git over HTTP in a
        sandbox; the API calls above manage their own tokens."""
        if self.installation_id is None:
            raise GitHubConfigError("an installation token needs the client's installation_id")
        path = f"/app/installations/{self.installation_id}/access_tokens"
        with self._call("POST", path):
            response = self._github.rest.apps.create_installation_access_token(
                self.installation_id
            )
        return str(response.json()["token"])


def find_installation_id(
    org: str,
    *,
    app_id: str | int | None = None,
    private_key_pem: str | None = None,
    base_url: str | None = None,
) -> int:
    """The installation id of the App on `org`; raises GitHubError (404: not installed)."""
    with GitHubClient(
        installation_id=None, app_id=app_id, private_key_pem=private_key_pem, base_url=base_url
    ) as app:
        return app.get_org_installation_id(org)


def walk_organization(client: GitHubClient, org: str) -> dict[str, int]:
    """Make exactly the GitHub calls of a full sync, store nothing, return the counts.

    The sync benchmark compares the sync's requests and time against this walk: installation
    repositories; branches per repository; the organization's members; open pull requests
    per repository.
    """
    repos = client.list_installation_repositories()
    branches = sum(len(client.list_branches(r.owner_login, r.name)) for r in repos)
    members = len(client.list_members(org))
    pulls = sum(len(client.list_open_pull_requests(r.owner_login, r.name)) for r in repos)
    return {"repos": len(repos), "branches": branches, "members": members, "pull_requests": pulls}


__all__ = ["GitHubClient", "GitHubError", "find_installation_id", "walk_organization"]
