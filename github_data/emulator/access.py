"""Who may see what: GitHub's answers to anonymous callers and to each kind of token.

- An installation token (the app is installed on the whole organization) and the
  user token of an organization member see every repository.
- Anyone else (no Authorization header, or a user outside the organization) sees
  public repositories, their branches, commits and pull requests, the public
  organization profile and user profiles; a private repository answers 404, as
  GitHub answers it, so that its existence does not leak.
- Organization membership is private by default on GitHub, and the emulator has
  no public memberships: outsiders see an empty member list.
"""

from __future__ import annotations

from .auth import Token
from .dataset import Dataset
from .models import Repository
from .routing import HttpError, Request


def sees_private(ds: Dataset, token: Token | None) -> bool:
    if token is None:
        return False
    if token.kind == "installation":
        return True
    return token.login is not None and token.login in ds.org.members


def check_org(ds: Dataset, name: str) -> None:
    if name.lower() != ds.org.login.lower():
        raise HttpError(404, "Not Found")


def visible_repo(ds: Dataset, req: Request) -> Repository:
    """The repository `{owner}/{repo}` names (the organization's, or a user's
    fork of one), or 404 when it is not there for this caller."""
    repo = ds.repo(f"{req.params['owner']}/{req.params['repo']}")
    if repo.private and not sees_private(ds, req.token):
        raise HttpError(404, "Not Found")
    return repo
