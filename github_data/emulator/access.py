"""Who may see what: GitHub's answers to anonymous callers and to each kind of token.

- An installation token sees every repository of the account the App is installed
  on (an organization's, or the forks a user owns), and nothing private elsewhere.
- The user token of an organization's member sees every repository of that
  organization; a fork's owner sees the fork.
- Anyone else (no Authorization header, a user outside the organization, another
  account's installation) sees public repositories, their branches, commits and
  pull requests, the public organization profile and user profiles; a private
  repository answers 404, as GitHub answers it, so that its existence does not leak.
- Organization membership is private by default on GitHub, and the emulator has
  no public memberships: outsiders see an empty member list.
"""

from __future__ import annotations

from .auth import Token
from .dataset import Dataset
from .models import Organization, Repository
from .routing import HttpError, Request


def sees_private(ds: Dataset, token: Token | None, org: Organization) -> bool:
    """Whether `token` sees `org`'s private repositories and its members."""
    if token is None:
        return False
    if token.kind == "installation":
        inst = ds.installations.get(token.installation_id or 0)
        return inst is not None and inst.account.lower() == org.login.lower()
    return token.login is not None and token.login in org.members


def sees_repo(ds: Dataset, token: Token | None, repo: Repository) -> bool:
    if not repo.private or sees_private(ds, token, ds.org_of(repo)):
        return True
    if repo.owner is None or token is None:
        return False
    owner = repo.owner.login.lower()
    if token.kind == "installation":
        inst = ds.installations.get(token.installation_id or 0)
        return inst is not None and inst.account.lower() == owner
    return token.login is not None and token.login.lower() == owner


def check_org(ds: Dataset, name: str) -> Organization:
    """The organization `name` names, or 404."""
    if not ds.is_org(name):
        raise HttpError(404, "Not Found")
    return ds.org_named(name)


def visible_repo(ds: Dataset, req: Request) -> Repository:
    """The repository `{owner}/{repo}` names (an organization's, or a user's
    fork of one), or 404 when it is not there for this caller."""
    repo = ds.repo(f"{req.params['owner']}/{req.params['repo']}")
    if not sees_repo(ds, req.token, repo):
        raise HttpError(404, "Not Found")
    return repo
