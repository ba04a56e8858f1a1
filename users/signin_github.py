"""What a sign-in asks GitHub, beyond the profile social-auth fetched.

With the person's token: their organization memberships (with roles).
With the App's identity (JWT): whether the App is installed on each of those
accounts, and on the person's own, and whether it is suspended there.
Plain HTTP with short timeouts: these calls sit in the person's sign-in.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, replace
from typing import Any

import httpx
from django.conf import settings

from github_data.client.auth import AppJWTSigner
from github_data.client.core import resolve_app_id, resolve_private_key
from github_data.client.errors import GitHubConfigError

log = logging.getLogger(__name__)

HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
# A sign-in waits on these; GitHub answers them in well under a second.
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class SignInGitHubError(Exception):
    """GitHub did not answer what a sign-in needs (outage, revoked token)."""


@dataclass(frozen=True)
class AccountSeen:
    org_id: str  # ``<login>``, or ``personal-<login>`` for the person's own
    login: str
    avatar_url: str
    personal: bool
    role: str  # admin / member / personal
    installation_checked: bool = False
    installation_id: int | None = None
    suspended: bool = False


_http: httpx.Client | None = None
_http_lock = threading.Lock()


def _client() -> httpx.Client:
    """One client for every sign-in (httpx clients are thread-safe): a new
    one costs about 10 ms (its TLS context), and it keeps connections."""
    global _http
    with _http_lock:
        if _http is None:
            _http = httpx.Client(headers=HEADERS, timeout=TIMEOUT)
        return _http


def _api() -> str:
    return str(settings.GITHUB_API_URL).rstrip("/")


def _get_all(auth: dict[str, str], path: str) -> list[Any]:
    items: list[Any] = []
    url: str | None = f"{_api()}{path}"
    params: dict[str, Any] | None = {"per_page": 100}
    while url:
        response = _client().get(url, params=params, headers=auth)
        if response.status_code != 200:
            raise SignInGitHubError(f"GET {path} answered {response.status_code}")
        items.extend(response.json())
        url = response.links.get("next", {}).get("url")
        params = None  # the next link carries them
    return items


def accounts_of(token: str, login: str, avatar_url: str) -> list[AccountSeen]:
    """The person's organizations (active memberships) and their own account."""
    try:
        rows = _get_all({"Authorization": f"token {token}"}, "/user/memberships/orgs")
    except httpx.HTTPError as exc:
        raise SignInGitHubError(f"GitHub is unreachable: {exc}") from exc
    accounts = [
        AccountSeen(
            org_id=row["organization"]["login"],
            login=row["organization"]["login"],
            avatar_url=row["organization"].get("avatar_url") or "",
            personal=False,
            role="admin" if row.get("role") == "admin" else "member",
        )
        for row in rows
        if row.get("state", "active") == "active"
    ]
    accounts.append(AccountSeen(f"personal-{login}", login, avatar_url, True, "personal"))
    return accounts


_signers: dict[tuple[Any, ...], AppJWTSigner] = {}
_signers_lock = threading.Lock()


def _app_signer() -> AppJWTSigner:
    """One signer per App identity, kept: loading the RSA key and signing a
    JWT cost about 30 ms each, and a signer reuses its JWT for minutes. A
    key file replaced in place is seen through its modification time."""
    path = settings.GITHUB_APP_PRIVATE_KEY_PATH
    mtime = os.stat(path).st_mtime_ns if path and os.path.exists(path) else None
    identity = (settings.GITHUB_APP_ID, settings.GITHUB_APP_PRIVATE_KEY, path, mtime)
    with _signers_lock:
        signer = _signers.get(identity)
        if signer is None:
            signer = AppJWTSigner(resolve_app_id(None), resolve_private_key(None))
            _signers.clear()  # settings changed: the old identity is gone
            _signers[identity] = signer
        return signer


def with_installations(accounts: list[AccountSeen]) -> list[AccountSeen]:
    """Each account with the App's installation there, asked as the App.
    Without App credentials, or when GitHub fails, the account is returned
    unchecked (the organization keeps what it knew): that must not stop a
    person from signing in."""
    try:
        signer = _app_signer()
    except GitHubConfigError as exc:
        log.warning("sign-in cannot check App installations: %s", exc)
        return accounts
    auth = {"Authorization": f"Bearer {signer.get()}"}
    checked = []
    for account in accounts:
        kind = "users" if account.personal else "orgs"
        try:
            response = _client().get(
                f"{_api()}/{kind}/{account.login}/installation", headers=auth
            )
        except httpx.HTTPError as exc:
            log.warning("installation check of %s failed: %s", account.org_id, exc)
            checked.append(account)
            continue
        if response.status_code == 404:
            checked.append(replace(account, installation_checked=True))
        elif response.status_code == 200:
            body = response.json()
            checked.append(replace(
                account, installation_checked=True, installation_id=int(body["id"]),
                suspended=bool(body.get("suspended_at")),
            ))
        else:
            log.warning("installation check of %s answered %s", account.org_id,
                        response.status_code)
            checked.append(account)
    return checked
