"""The emulated GitHub's records, its errors and the events its mutations emit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class EmulatorError(Exception):
    """An error GitHub would answer with a status and a JSON message."""

    status = 400

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


class NotFound(EmulatorError):
    status = 404


class ValidationFailed(EmulatorError):
    status = 422


class NotMergeable(EmulatorError):
    status = 405


@dataclass
class User:
    login: str
    id: int
    name: str
    email: str
    created_at: datetime
    type: str = "User"


@dataclass
class Branch:
    name: str
    sha: str
    protected: bool = False


@dataclass
class PullRequest:
    id: int
    number: int
    title: str
    body: str
    user: str
    head: str
    base: str
    head_sha: str
    base_sha: str
    created_at: datetime
    updated_at: datetime
    state: str = "open"
    draft: bool = False
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    # The fork the head branch lives in; None: the base repository itself.
    head_repo: Repository | None = None


@dataclass
class Repository:
    id: int
    name: str
    private: bool
    description: str
    created_at: datetime
    updated_at: datetime
    pushed_at: datetime
    default_branch: str = "main"
    branches: dict[str, Branch] = field(default_factory=dict)
    pulls: dict[int, PullRequest] = field(default_factory=dict)
    next_number: int = 1
    # A fork: its owner (a user) and its parent (a repository of the same
    # organization, by name). None, None: a repository of the organization.
    owner: User | None = None
    parent: str | None = None
    # The login of the organization the repository belongs to (a fork: its
    # parent's organization).
    org: str = ""

    def open_pull(self, head_repo: Repository | None, head: str, base: str) -> PullRequest | None:
        """The open PR from `head` (of `head_repo`; None: this repository) into `base`:
        GitHub allows one per (head, base) pair."""
        for pr in self.open_pulls_from(head_repo, head):
            if pr.base == base:
                return pr
        return None

    def open_pulls_from(self, head_repo: Repository | None, head: str) -> list[PullRequest]:
        """The open PRs whose head is branch `head` of `head_repo` (None: this repository)."""
        return [
            pr
            for pr in self.pulls.values()
            if pr.state == "open" and pr.head == head and pr.head_repo is head_repo
        ]


@dataclass
class Organization:
    login: str
    id: int
    name: str
    description: str
    created_at: datetime
    # Insertion order is the order GitHub lists members in (here: by creation).
    members: dict[str, str] = field(default_factory=dict)  # login -> role (admin|member)
    repos: dict[str, Repository] = field(default_factory=dict)  # by name


@dataclass
class GitHubApp:
    id: int
    slug: str
    name: str
    client_id: str
    private_key_pem: str
    public_key_pem: str
    created_at: datetime


@dataclass
class Installation:
    """The App installed on an account: an organization, or a user's personal account."""

    id: int
    app_id: int
    account: str  # the login of that organization or user
    created_at: datetime
    updated_at: datetime
    target_type: str = "Organization"  # or "User": a personal account
    suspended_at: datetime | None = None
    suspended_by: str | None = None  # login


@dataclass
class OAuthApp:
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class Event:
    """Something that happened, as GitHub would announce it by webhook.

    `data` holds snapshots (copies) of the records involved, taken inside the mutation, so a
    later mutation cannot change what an earlier delivery says. `account` is the login of
    the organization or user the event belongs to, whose installation of the App hears
    it; None: the owner of `repo`.
    """

    name: str
    action: str | None
    sender: str
    repo: Repository | None = None
    data: dict[str, Any] = field(default_factory=dict)
    account: str | None = None
