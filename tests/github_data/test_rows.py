"""GitHub's pull requests as the organization hears of them, head repository
included: the base repository's own branch, a fork's, and a deleted fork's."""

from __future__ import annotations

from typing import Any

import pytest

from github_data.client import PullRequestData
from github_data.rows import pull_request_in
from orgs.models import TaskIndexEntry
from orgs.task_index import apply_pull_requests, virtual_task_id

BASE = {"id": 7, "full_name": "acme/app", "fork": False}


def pr_json(number: int, head_repo: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    return {
        "id": 900 + number, "number": number, "title": "T", "state": "open",
        "head": {"ref": "patch-1", "sha": "a" * 40, "repo": head_repo},
        "base": {"ref": "main", "repo": BASE}, "user": {"login": "octo", "id": 1},
        "html_url": f"https://github.example/acme/app/pull/{number}",
        "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-02T00:00:00Z", **extra,
    }


@pytest.mark.django_db
def test_head_repositories_reach_the_task_index() -> None:
    """#1's head is the repository's own `patch-1` (it owns it); #2's lives in
    a fork; #3's fork was deleted (GitHub sends `head.repo: null`): both are
    tasks, neither owns the repository's `patch-1`. A merged PR reads as
    merged."""
    fork = {"id": 8, "full_name": "octo/app", "fork": True}
    pulls = [
        PullRequestData.from_json(pr_json(1, BASE)),
        PullRequestData.from_json(pr_json(2, fork)),
        PullRequestData.from_json(pr_json(3, None)),
    ]
    heads = [(p.head_repo_id, p.head_repo_full_name, p.head_repo_fork) for p in pulls]
    assert heads == [(7, "acme/app", False), (8, "octo/app", True), (None, "", True)]
    apply_pull_requests("acme", [pull_request_in(7, "app", p) for p in pulls])
    owners = {e.pr_number: e.owns_branch for e in TaskIndexEntry.objects.filter(org="acme")}
    assert owners == {1: True, 2: False, 3: False}
    assert TaskIndexEntry.objects.get(task_id=virtual_task_id(7, 3)).head_repo_id is None

    merged = PullRequestData.from_json(
        pr_json(1, BASE, state="closed", merged_at="2024-01-03T00:00:00Z")
    )
    assert pull_request_in(7, "app", merged).state == "merged"
