"""The organization's task list: filters, search and keyset pages over
``TaskSummary`` (the organization's own projection; never a task actor).

The sidebar and the REST API both page through it. Order: latest activity
first (``updated_at`` desc, then id desc); a cursor is the last row's
(updated_at, id), so a page costs an index range scan however deep it is,
and rows updated meanwhile do not shift later pages.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from orgs.models import TaskStatus, TaskSummary

MAX_LIMIT = 200


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class TaskFilter:
    repo_id: int | None = None
    status: str | None = None
    has_pr: bool | None = None
    archived: bool | None = False
    search: str = ""
    owner_login: str = ""  # "mine": the person's own tasks


def _encode(row: TaskSummary) -> str:
    raw = f"{row.updated_at.isoformat()}|{row.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, pk = raw.split("|")
        return datetime.fromisoformat(at), int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadCursor(f"not a cursor of this list: {cursor!r}") from exc


def filtered(org: str, flt: TaskFilter) -> QuerySet[TaskSummary]:
    rows = TaskSummary.objects.filter(org=org)
    if flt.repo_id is not None:
        rows = rows.filter(repo_id=flt.repo_id)
    if flt.status:
        rows = rows.filter(status=flt.status)
    if flt.archived is not None:
        archived = Q(status=TaskStatus.ARCHIVED) | ~Q(archived_reason="")
        rows = rows.filter(archived) if flt.archived else rows.exclude(archived)
    if flt.owner_login:
        rows = rows.filter(owner_login=flt.owner_login)
    if flt.has_pr is not None:
        rows = rows.filter(pr_number__isnull=not flt.has_pr)
    search = flt.search.strip()
    if search:
        match = Q(title__icontains=search) | Q(branch__icontains=search)
        number = search.lstrip("#")
        if number.isdigit():
            match |= Q(pr_number=int(number))
        rows = rows.filter(match)
    return rows


def page(
    org: str, flt: TaskFilter, *, cursor: str | None = None, limit: int = 50
) -> tuple[list[TaskSummary], str | None]:
    """One page and the cursor of the next (None at the end)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit is 1 to {MAX_LIMIT}")
    rows = filtered(org, flt)
    if cursor:
        at, pk = _decode(cursor)
        rows = rows.filter(Q(updated_at__lt=at) | Q(updated_at=at, pk__lt=pk))
    found = list(rows.order_by("-updated_at", "-pk")[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    return found, (_encode(found[-1]) if more and found else None)
