"""Foundry's GitHub client (GitHub App installation, githubkit underneath).

    with GitHubClient(installation_id=...) as client:
        repos = client.list_installation_repositories()

Modules: `core` (the client), `auth` (App JWT, cached installation token), `retry` (when and
how long to wait), `transport` (request counting), `errors`, `data` and `commit_data`
(typed results).
"""

from .commit_data import CommitData, ComparisonData, FileChangeData
from .core import GitHubClient, find_installation_id, walk_organization
from .data import BranchData, MemberData, PullRequestData, RepoData
from .errors import (
    GitHubAuthError,
    GitHubConfigError,
    GitHubError,
    GitHubRateLimitError,
    GitHubRequestError,
)

__all__ = [
    "BranchData",
    "CommitData",
    "ComparisonData",
    "FileChangeData",
    "GitHubAuthError",
    "GitHubClient",
    "GitHubConfigError",
    "GitHubError",
    "GitHubRateLimitError",
    "GitHubRequestError",
    "MemberData",
    "PullRequestData",
    "RepoData",
    "find_installation_id",
    "walk_organization",
]
