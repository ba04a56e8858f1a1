"""The data ``bench_ui`` measures against: one organization with N tasks
(pull-request tasks spread over repositories, latest activity spread over
a month), a member to sign in as, removed afterwards.

The rows are bulk-inserted into the organization's own tables (what a
full sync writes, batch by batch, through the organization actor): a
10,000-task sync through the emulator would take minutes and measure the
sync, not the pages. Only the benchmark does this; the product never does.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from github_data.models import GitHubRepository
from orgs.models import Organization, TaskIndexEntry, TaskStatus, TaskSummary
from users.models import Membership

STATUSES = [TaskStatus.IDLE, TaskStatus.RUNNING, TaskStatus.IDLE, TaskStatus.ERROR]


def seed(tasks: int, repos: int) -> tuple[str, Any]:
    """A new organization ``benchui-<hex>`` and its member; (org, user)."""
    org = f"benchui-{uuid.uuid4().hex[:6]}"
    now = timezone.now()
    Organization.objects.create(org_id=org, login=org, name="UI benchmark",
                                installation_id=1, installation_status="installed",
                                sync_status="succeeded", synced_at=now)
    GitHubRepository.objects.bulk_create([
        GitHubRepository(org=org, github_id=900_000 + r, name=f"repo-{r:03d}",
                         full_name=f"{org}/repo-{r:03d}", owner_login=org,
                         default_branch="main", html_url=f"https://example.test/{org}/{r}",
                         clone_url=f"https://example.test/{org}/{r}.git")
        for r in range(repos)
    ])
    index, summaries = [], []
    for n in range(tasks):
        repo = n % repos
        repo_id, number = 900_000 + repo, n // repos + 1
        task_id, branch = f"pr-{repo_id}-{number}", f"feature-{n:05d}"
        index.append(TaskIndexEntry(org=org, task_id=task_id, repo_id=repo_id, branch=branch,
                                    pr_number=number, head_repo_id=repo_id,
                                    head_repo_full_name=f"{org}/repo-{repo:03d}"))
        summaries.append(TaskSummary(
            org=org, task_id=task_id, repo_id=repo_id, repo_name=f"repo-{repo:03d}",
            title=f"Benchmark task {n:05d}", branch=branch, head_repo_id=repo_id,
            head_repo_full_name=f"{org}/repo-{repo:03d}", pr_number=number, pr_state="open",
            author_login=f"dev{n % 40}", status=STATUSES[n % len(STATUSES)],
            lines_added=n % 97, lines_removed=n % 13,
            updated_at=now - timedelta(seconds=n * 260),
        ))
    TaskIndexEntry.objects.bulk_create(index, batch_size=2000)
    TaskSummary.objects.bulk_create(summaries, batch_size=2000)
    user = get_user_model().objects.create_user(f"{org}-member")
    Membership.objects.create(user=user, org=org)
    return org, user


def clean(org: str, user: Any) -> None:
    TaskSummary.objects.filter(org=org).delete()
    TaskIndexEntry.objects.filter(org=org).delete()
    GitHubRepository.objects.filter(org=org).delete()
    Membership.objects.filter(org=org).delete()
    Organization.objects.filter(org_id=org).delete()
    user.delete()
