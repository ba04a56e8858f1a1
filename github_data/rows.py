"""GitHub's data as Foundry's rows: one mapping each, shared by the full
sync and the webhooks, so the two paths cannot drift apart.

The input is always the client's typed data (``github_data.client.data``),
whether it came from a REST listing or a webhook payload: that module is the
one place that reads GitHub's JSON.
"""

from __future__ import annotations

from typing import Any, Literal

from github_data.client import PullRequestData, RepoData
from orgs.schemas import PullRequestIn


def repository_fields(org: str, repo: RepoData) -> dict[str, Any]:
    """A ``GitHubRepository`` row."""
    return {
        "org": org,
        "github_id": repo.id,
        "name": repo.name,
        "full_name": repo.full_name,
        "owner_login": repo.owner_login,
        "default_branch": repo.default_branch,
        "private": repo.private,
        "html_url": repo.html_url,
        "clone_url": repo.clone_url,
        "pushed_or_updated_at": repo.updated_at,
    }


def pull_request_fields(org: str, repository_pk: int, pr: PullRequestData) -> dict[str, Any]:
    """A ``GitHubPullRequest`` row (open pull requests only are kept)."""
    return {
        "org": org,
        "repository_id": repository_pk,
        "github_id": pr.id,
        "number": pr.number,
        "title": pr.title,
        "draft": pr.draft,
        "head_ref": pr.head_ref,
        "head_sha": pr.head_sha,
        "head_repo_full_name": pr.head_repo_full_name,
        "base_ref": pr.base_ref,
        "author_login": pr.author_login or "",
        "author_avatar_url": pr.author_avatar_url or "",
        "html_url": pr.html_url,
        "created_at": pr.created_at,
        "updated_at": pr.updated_at,
    }


def pull_request_state(pr: PullRequestData) -> Literal["open", "closed", "merged"]:
    """GitHub says "closed" for merged pull requests too; tasks tell them apart."""
    if pr.state == "open":
        return "open"
    return "merged" if pr.merged_at is not None else "closed"


def pull_request_in(repo_id: int, repo_name: str, pr: PullRequestData) -> PullRequestIn:
    """What the organization actor hears of a pull request of repository
    ``repo_id`` (its base repository)."""
    return PullRequestIn(
        repo_id=repo_id,
        repo_name=repo_name,
        number=pr.number,
        title=pr.title,
        head_ref=pr.head_ref,
        head_sha=pr.head_sha,
        head_repo_id=pr.head_repo_id,
        head_repo_full_name=pr.head_repo_full_name,
        head_repo_fork=pr.head_repo_fork,
        # None: the author's account was deleted (GitHub's "ghost").
        author_login=pr.author_login or "",
        author_avatar_url=pr.author_avatar_url or "",
        html_url=pr.html_url,
        updated_at=pr.updated_at,
        state=pull_request_state(pr),
    )
