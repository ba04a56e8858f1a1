"""Payloads of the organization actor's commands."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from orgs.models import InstallationStatus, OrganizationKind, OrgSyncStatus


class PullRequestIn(BaseModel):
    repo_id: int
    repo_name: str
    number: int
    title: str
    head_ref: str
    head_sha: str
    # Where the head branch lives: the base repository (``repo_id``), or a
    # fork (None: a fork deleted under its pull request).
    head_repo_id: int | None
    head_repo_full_name: str = ""
    head_repo_fork: bool = False
    author_login: str
    author_avatar_url: str = ""
    html_url: str
    updated_at: datetime | None = None
    state: Literal["open", "closed", "merged"] = "open"


class ApplyPullRequestsIn(BaseModel):
    pull_requests: list[PullRequestIn]


class ReconcileOpenPullRequestsIn(BaseModel):
    """Every pull request GitHub reports open, as [repo_id, number]."""

    open: list[tuple[int, int]]


class RefreshBranchIn(BaseModel):
    repo_id: int
    branch: str
    head_sha: str = ""
    deleted: bool = False
    at: datetime | None = None


class SetInstallationIn(BaseModel):
    login: str
    installation_id: int | None = None
    status: InstallationStatus
    connected_account: str = ""


class SeenAtSignInIn(BaseModel):
    """The account as a person's sign-in saw it: its profile, and the App's
    installation there as the App itself reported it (None: not installed;
    ``installation_checked`` False: the check failed, keep what is known)."""

    login: str
    name: str = ""
    avatar_url: str = ""
    kind: OrganizationKind = OrganizationKind.ORGANIZATION
    installation_checked: bool = True
    installation_id: int | None = None
    suspended: bool = False


class RecordSyncIn(BaseModel):
    status: OrgSyncStatus
    label: str = ""
    processed: int = 0
    total: int = 0
    finished: bool = False


class RegisterTaskIn(BaseModel):
    """A new task started from a prompt claims its branch in the index."""

    task_id: str
    repo_id: int
    repo_name: str
    repo_full_name: str
    branch: str
    title: str
    owner_login: str = ""
    owner_avatar_url: str = ""


class TaskUpdateIn(BaseModel):
    """What a materialized task pushes up after each change: its summary,
    and the index facts it changes (archived, its pull request)."""

    task_id: str
    title: str
    status: str
    archived: bool = False
    archived_reason: str = ""
    owner_login: str = ""
    owner_avatar_url: str = ""
    pr_number: int | None = None
    pr_state: str = ""
    pr_url: str = ""
    lines_added: int = 0
    lines_removed: int = 0
    updated_at: datetime | None = None
