"""JSON shapes of GitHub's REST API, complete enough for githubkit's models to parse.

Field names and nesting follow api.github.com; URLs point back at the emulator (`base`).
Callers hold the dataset lock while rendering.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .models import GitHubApp, Installation, Organization, Repository, User

if TYPE_CHECKING:
    from .dataset import Dataset

Json = dict[str, Any]

APP_PERMISSIONS = {
    "contents": "write",
    "metadata": "read",
    "pull_requests": "write",
    "members": "read",
}
APP_EVENTS = [
    "create",
    "delete",
    "installation_repositories",
    "organization",
    "pull_request",
    "push",
    "repository",
]


def iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def node_id(prefix: str, ident: int) -> str:
    return f"{prefix}_" + base64.b64encode(f"0:{ident}".encode()).decode().rstrip("=")


def avatar(base: str, ident: int) -> str:
    return f"{base}/_avatars/{ident}"


def simple_user(base: str, login: str, ident: int, kind: str = "User") -> Json:
    url = f"{base}/users/{login}"
    return {
        "login": login,
        "id": ident,
        "node_id": node_id("O" if kind == "Organization" else "U", ident),
        "avatar_url": avatar(base, ident),
        "gravatar_id": "",
        "url": url,
        "html_url": f"{base}/{login}",
        "followers_url": f"{url}/followers",
        "following_url": f"{url}/following{{/other_user}}",
        "gists_url": f"{url}/gists{{/gist_id}}",
        "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{url}/subscriptions",
        "organizations_url": f"{url}/orgs",
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events{{/privacy}}",
        "received_events_url": f"{url}/received_events",
        "type": kind,
        "user_view_type": "public",
        "site_admin": False,
    }


def user_ref(base: str, users: dict[str, User], org: Organization, login: str) -> Json:
    """A SimpleUser for any login the dataset may name (a user, or the org itself)."""
    if login == org.login:
        return simple_user(base, org.login, org.id, "Organization")
    user = users.get(login)
    return simple_user(base, login, user.id if user else 0, user.type if user else "User")


def user_full(base: str, user: User, private: bool = False) -> Json:
    """A public user; `private=True`: the signed-in user's own profile (`GET /user`), whose
    `user_view_type` picks the description's private-user schema."""
    data = simple_user(base, user.login, user.id)
    data.update(
        name=user.name,
        company=None,
        blog="",
        location=None,
        email=user.email,
        hireable=None,
        bio=None,
        twitter_username=None,
        public_repos=0,
        public_gists=0,
        followers=0,
        following=0,
        created_at=iso(user.created_at),
        updated_at=iso(user.created_at),
    )
    if private:
        data.update(
            user_view_type="private",
            private_gists=0,
            total_private_repos=0,
            owned_private_repos=0,
            disk_usage=0,
            collaborators=0,
            two_factor_authentication=True,
            plan={"name": "free", "space": 976562499, "private_repos": 10000, "collaborators": 0},
        )
    return data


def org_simple(base: str, org: Organization) -> Json:
    url = f"{base}/orgs/{org.login}"
    return {
        "login": org.login,
        "id": org.id,
        "node_id": node_id("O", org.id),
        "url": url,
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events",
        "hooks_url": f"{url}/hooks",
        "issues_url": f"{url}/issues",
        "members_url": f"{url}/members{{/member}}",
        "public_members_url": f"{url}/public_members{{/member}}",
        "avatar_url": avatar(base, org.id),
        "description": org.description,
    }


def org_full(base: str, org: Organization, repos: list[Repository], member: bool) -> Json:
    """`GET /orgs/{org}`. The description types `company`, `email` and `location` as
    strings, never null, and none is required: an organization without one omits it.
    The private counts go to members only, as on GitHub."""
    public = sum(not r.private for r in repos)
    data = org_simple(base, org)
    data.update(
        name=org.name,
        blog="",
        twitter_username=None,
        is_verified=False,
        has_organization_projects=True,
        has_repository_projects=True,
        public_repos=public,
        public_gists=0,
        followers=0,
        following=0,
        html_url=f"{base}/{org.login}",
        type="Organization",
        created_at=iso(org.created_at),
        updated_at=iso(org.created_at),
        archived_at=None,
    )
    if member:
        data.update(
            total_private_repos=len(repos) - public,
            owned_private_repos=len(repos) - public,
        )
    return data


def installation_account(base: str, account: Organization | User) -> Json:
    """An installation's `account`. `GET /app/installations` documents it as a simple
    user *and* an enterprise (allOf), the single installation as either (anyOf): it
    carries the enterprise's required fields too, so it satisfies both."""
    kind = "Organization" if isinstance(account, Organization) else "User"
    data = simple_user(base, account.login, account.id, kind)
    data.update(
        name=account.name,
        slug=account.login,
        created_at=iso(account.created_at),
        updated_at=iso(account.created_at),
    )
    return data


def installation(
    base: str,
    account: Organization | User,
    app: GitHubApp,
    inst: Installation,
    suspended_by: User | None = None,
) -> Json:
    """The App's installation on an organization or a personal account
    (`suspended_by`: the user who suspended it, if it is suspended)."""
    if isinstance(account, Organization):
        html_url = f"{base}/organizations/{account.login}/settings/installations/{inst.id}"
    else:
        html_url = f"{base}/settings/installations/{inst.id}"
    return {
        "id": inst.id,
        "client_id": app.client_id,
        "account": installation_account(base, account),
        "repository_selection": "all",
        "access_tokens_url": f"{base}/app/installations/{inst.id}/access_tokens",
        "repositories_url": f"{base}/installation/repositories",
        "html_url": html_url,
        "app_id": app.id,
        "app_slug": app.slug,
        "target_id": account.id,
        "target_type": inst.target_type,
        "permissions": APP_PERMISSIONS,
        "events": APP_EVENTS,
        "created_at": iso(inst.created_at),
        "updated_at": iso(inst.updated_at),
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": (
            simple_user(base, suspended_by.login, suspended_by.id, suspended_by.type)
            if suspended_by is not None and inst.suspended_at is not None
            else None
        ),
        "suspended_at": iso(inst.suspended_at),
    }


def installation_from(base: str, ds: Dataset, inst: Installation) -> Json:
    """`installation` with its account and suspender found in the dataset (hold its lock)."""
    suspender = ds.users.get(inst.suspended_by) if inst.suspended_by else None
    return installation(base, ds.account(inst.account), ds.app, inst, suspender)


def app(base: str, org: Organization, app: GitHubApp, installations: int) -> Json:
    return {
        "id": app.id,
        "slug": app.slug,
        "node_id": node_id("A", app.id),
        "client_id": app.client_id,
        "owner": simple_user(base, org.login, org.id, "Organization"),
        "name": app.name,
        "description": "Foundry's GitHub App (emulated)",
        "external_url": base,
        "html_url": f"{base}/apps/{app.slug}",
        "created_at": iso(app.created_at),
        "updated_at": iso(app.created_at),
        "permissions": APP_PERMISSIONS,
        "events": APP_EVENTS,
        "installations_count": installations,
    }


def membership(base: str, org: Organization, user: User, role: str) -> Json:
    return {
        "url": f"{base}/orgs/{org.login}/memberships/{user.login}",
        "state": "active",
        "role": role,
        "organization_url": f"{base}/orgs/{org.login}",
        "organization": org_simple(base, org),
        "user": simple_user(base, user.login, user.id),
    }
