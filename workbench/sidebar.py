"""What the sidebar shows: repositories in order, and pages of task rows.

Everything comes from the organization's own projection (``TaskSummary``,
through ``orgs.task_list``), never from a task actor. Repositories with
tasks or open pull requests come first, then by latest activity; each
repository's rows are keyset pages, loaded as they scroll into view, so
10,000 tasks cost the rows on screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, Q

from github_data.models import GitHubRepository
from orgs.models import TaskStatus, TaskSummary
from orgs.task_list import TaskFilter, page

ROWS_PER_PAGE = 25
REPOS_RENDERED_WITH_ROWS = 3  # the first repositories' rows come with the page


@dataclass(frozen=True)
class RepoSection:
    repo_id: int
    name: str
    full_name: str
    open_tasks: int
    open_prs: int
    latest: datetime | None


def repo_sections(org: str) -> list[RepoSection]:
    live = ~Q(status=TaskStatus.ARCHIVED) & Q(archived_reason="")
    counts = {
        row["repo_id"]: row for row in TaskSummary.objects.filter(org=org).values("repo_id")
        .annotate(open_tasks=Count("pk", filter=live),
                  open_prs=Count("pk", filter=live & Q(pr_number__isnull=False)),
                  latest=Max("updated_at"))
    }
    sections = []
    for repo in GitHubRepository.objects.filter(org=org).only("github_id", "name", "full_name"):
        found = counts.get(repo.github_id, {})
        sections.append(RepoSection(
            repo_id=repo.github_id, name=repo.name, full_name=repo.full_name,
            open_tasks=found.get("open_tasks", 0), open_prs=found.get("open_prs", 0),
            latest=found.get("latest"),
        ))
    return sorted(sections, key=lambda s: (
        not (s.open_tasks or s.open_prs),
        -(s.latest.timestamp() if s.latest else 0),
        s.full_name,
    ))


@dataclass(frozen=True)
class SidebarQuery:
    """The search box and the filters, as the page's query string has them."""

    search: str = ""
    mine: bool = False
    open_prs: bool = False
    archived: bool = False

    @property
    def active(self) -> bool:
        return bool(self.search.strip() or self.mine or self.open_prs or self.archived)

    def task_filter(self, login: str, repo_id: int | None = None) -> TaskFilter:
        return TaskFilter(
            repo_id=repo_id, search=self.search, owner_login=login if self.mine else "",
            has_pr=True if self.open_prs else None, archived=self.archived,
        )


def rows_page(
    org: str, flt: TaskFilter, cursor: str | None
) -> tuple[list[TaskSummary], str | None]:
    return page(org, flt, cursor=cursor, limit=ROWS_PER_PAGE)


def rows_by_id(org: str, task_ids: list[str]) -> list[TaskSummary]:
    return list(TaskSummary.objects.filter(org=org, task_id__in=task_ids[:100]))
