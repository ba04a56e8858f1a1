"""Tasks over the API. The list reads the organization's task summaries
(``orgs/task_list.py``), like the sidebar: no task actor is touched."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from foundry.api import ERRORS, ApiError, not_found, person
from orgs.access import require_member
from orgs.models import TaskStatus, TaskSummary
from orgs.task_list import MAX_LIMIT, BadCursor, TaskFilter, page

router = Router(tags=["tasks"])


class TaskSummaryOut(Schema):
    task_id: str
    repo_id: int
    repo_name: str
    title: str
    branch: str
    status: str
    pr_number: int | None
    pr_state: str
    pr_url: str
    author_login: str
    archived_reason: str
    updated_at: datetime


class TaskPageOut(Schema):
    tasks: list[TaskSummaryOut]
    next_cursor: str | None


class TaskListQuery(Schema):
    repo_id: int | None = None
    status: TaskStatus | None = None
    has_pr: bool | None = None
    archived: bool | None = False
    search: str = ""
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


@router.get("/orgs/{org}/tasks", response={200: TaskPageOut, **ERRORS},
            summary="Tasks, latest activity first, with filters and a cursor")
def list_tasks(request: HttpRequest, org: str, q: Query[TaskListQuery]) -> TaskPageOut:
    require_member(person(request), org)
    if not 1 <= q.limit <= MAX_LIMIT:
        raise ApiError(422, "invalid_request", f"limit is 1 to {MAX_LIMIT}")
    flt = TaskFilter(repo_id=q.repo_id, status=q.status, has_pr=q.has_pr,
                     archived=q.archived, search=q.search)
    try:
        rows, next_cursor = page(org, flt, cursor=q.cursor, limit=q.limit)
    except BadCursor as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    return TaskPageOut(tasks=[TaskSummaryOut.from_orm(r) for r in rows], next_cursor=next_cursor)


@router.get("/orgs/{org}/tasks/{task_id}/summary", response={200: TaskSummaryOut, **ERRORS},
            summary="A task's summary (as the sidebar shows it)")
def task_summary(request: HttpRequest, org: str, task_id: str) -> TaskSummaryOut:
    require_member(person(request), org)
    row = TaskSummary.objects.filter(org=org, task_id=task_id).first()
    if row is None:
        raise not_found(f"task {task_id}")
    return TaskSummaryOut.from_orm(row)


# The task's detail, commands and sessions register on this router.
from tasks import api_actions, api_sessions  # noqa: E402,F401
