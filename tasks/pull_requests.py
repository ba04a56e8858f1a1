"""Opening a task's pull request through GitHub's API: as the task's owner
(their token, KEEP 11), or as the GitHub App when the task has none.

Opening is not idempotent on GitHub (a second POST answers 422), so an open
pull request of the branch is looked up first: a step run again after a
crash finds the one it opened.
"""

from __future__ import annotations

from dataclasses import dataclass

from githubkit import GitHub, TokenAuthStrategy

from github_data.client import GitHubClient, PullRequestData
from github_data.client.core import resolve_base_url
from tasks.models import Task
from tasks.workspace import identity_of

API_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class OpenedPullRequest:
    number: int
    url: str
    state: str
    existed: bool


def _as_owner(task: Task) -> GitHub[TokenAuthStrategy]:
    return GitHub(
        TokenAuthStrategy(identity_of(task).token), base_url=resolve_base_url(None),
        timeout=API_TIMEOUT_SECONDS, http_cache=False,
    )


def open_pull_request(task: Task, *, title: str, body: str, draft: bool) -> OpenedPullRequest:
    owner, name = task.repo_full_name.split("/", 1)
    head = f"{owner}:{task.branch}"
    if task.owner is None:
        with GitHubClient(installation_id=_installation_id(task.org)) as app:
            existing = app.open_pull_requests_from(owner, name, head)
            if existing:
                return _opened(existing[0], existed=True)
            created = app.create_pull_request(
                owner, name, title=title, head=task.branch, base=task.base_branch, body=body
            )
            return _opened(created, existed=False)
    with _as_owner(task) as gh:
        found = gh.rest.pulls.list(owner, name, head=head, state="open").json()
        if found:
            return _opened(PullRequestData.from_json(found[0]), existed=True)
        response = gh.rest.pulls.create(
            owner, name, title=title, head=task.branch, base=task.base_branch, body=body,
            draft=draft,
        )
        return _opened(PullRequestData.from_json(response.json()), existed=False)


def _opened(pr: PullRequestData, *, existed: bool) -> OpenedPullRequest:
    return OpenedPullRequest(pr.number, pr.html_url, pr.state, existed)


def _installation_id(org: str) -> int:
    from orgs.models import Organization
    from tasks.errors import TaskError

    found = Organization.objects.filter(org_id=org).values_list(
        "installation_id", flat=True).first()
    if not found:
        raise TaskError(f"organization {org!r} has no GitHub App installation to open a PR as")
    return int(found)
