"""Payloads of the github-data actor's commands."""

from __future__ import annotations

from pydantic import BaseModel

from orgs.models import InstallationStatus
from orgs.schemas import PullRequestIn


class FullSyncIn(BaseModel):
    """The sync carries its own config into every phase, so a sync started
    by a webhook before anyone signed in (no organization profile yet) has
    everything it needs."""

    org: str
    installation_id: int
    connected_account: str = ""
    installation_status: InstallationStatus = InstallationStatus.CONNECTED


class RepositoryRef(BaseModel):
    id: int
    name: str
    full_name: str
    owner_login: str
    default_branch: str = "main"
    private: bool = False
    html_url: str = ""
    clone_url: str = ""


class PullRequestEventIn(BaseModel):
    repository: RepositoryRef
    pull_request: PullRequestIn
    github_id: int
    draft: bool = False
    base_ref: str = "main"


class BranchEventIn(BaseModel):
    repository: RepositoryRef
    branch: str
    head_sha: str = ""
    deleted: bool = False


class MemberEventIn(BaseModel):
    github_id: int
    login: str
    avatar_url: str = ""
    removed: bool = False
