"""The task list over the API: filters, search, cursor pages, membership."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from orgs.models import TaskStatus, TaskSummary


def _summaries(org: str, count: int) -> None:
    now = timezone.now()
    TaskSummary.objects.bulk_create([
        TaskSummary(
            org=org, task_id=f"t{i}", repo_id=1 + i % 2, repo_name=f"repo{1 + i % 2}",
            title=f"Task number {i}", branch=f"feature-{i}",
            pr_number=100 + i if i % 3 == 0 else None, pr_state="open" if i % 3 == 0 else "",
            status=TaskStatus.ARCHIVED if i == 5 else TaskStatus.IDLE,
            archived_reason="PR merged" if i == 5 else "",
            # Equal times for some rows: the cursor orders them by id.
            updated_at=now - timedelta(minutes=i // 2),
        )
        for i in range(count)
    ])


def test_tasks_page_filter_and_search(
    two_orgs: dict[str, User], as_token: Callable[[User], Client]
) -> None:
    _summaries("acme", 23)
    _summaries("initech", 3)
    alice = as_token(two_orgs["alice"])
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        url = "/api/v1/orgs/acme/tasks?limit=5" + (f"&cursor={cursor}" if cursor else "")
        body = alice.get(url).json()
        seen += [t["task_id"] for t in body["tasks"]]
        pages += 1
        if not body["next_cursor"]:
            break
        cursor = body["next_cursor"]
    live = [f"t{i}" for i in range(23) if i != 5]
    assert sorted(seen) == sorted(live) and len(seen) == len(set(seen)) and pages == 5
    archived = alice.get("/api/v1/orgs/acme/tasks?archived=true").json()["tasks"]
    assert [t["task_id"] for t in archived] == ["t5"]
    with_pr = alice.get("/api/v1/orgs/acme/tasks?has_pr=true&limit=200").json()["tasks"]
    assert {t["pr_number"] for t in with_pr} == {100 + i for i in range(0, 23, 3)}
    assert [t["task_id"] for t in
            alice.get("/api/v1/orgs/acme/tasks?search=%23112").json()["tasks"]] == ["t12"]
    assert [t["task_id"] for t in
            alice.get("/api/v1/orgs/acme/tasks?search=feature-22").json()["tasks"]] == ["t22"]
    repo2 = alice.get("/api/v1/orgs/acme/tasks?repo_id=2&limit=200").json()["tasks"]
    assert repo2 and {t["repo_id"] for t in repo2} == {2}
    assert alice.get("/api/v1/orgs/acme/tasks?cursor=garbage!").json()["code"] == "bad_request"
    assert alice.get("/api/v1/orgs/acme/tasks?status=bogus").status_code == 422
    assert alice.get("/api/v1/orgs/initech/tasks").status_code == 404
    assert alice.get("/api/v1/orgs/initech/tasks/t1/summary").status_code == 404
    assert alice.get("/api/v1/orgs/acme/tasks/t1/summary").json()["branch"] == "feature-1"
    assert alice.get("/api/v1/orgs/acme/tasks/nope/summary").status_code == 404
