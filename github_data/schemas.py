"""Payloads of the github-data actor's commands."""

from __future__ import annotations

from pydantic import BaseModel

from github_data.client import PullRequestData, RepoData
from orgs.models import InstallationStatus


class FullSyncIn(BaseModel):
    """The sync carries its own config into every phase, so a sync started
    by a webhook before anyone signed in (no organization profile yet) has
    everything it needs."""

    org: str
    installation_id: int
    connected_account: str = ""
    installation_status: InstallationStatus = InstallationStatus.INSTALLED


class PullRequestEventIn(BaseModel):
    """A pull_request webhook: the pull request and its base repository, as
    the client parses them (``RepoData``, ``PullRequestData``)."""

    repository: RepoData
    pull_request: PullRequestData


class BranchEventIn(BaseModel):
    repository: RepoData
    branch: str
    head_sha: str = ""
    deleted: bool = False


class MemberEventIn(BaseModel):
    github_id: int
    login: str
    avatar_url: str = ""
    removed: bool = False
