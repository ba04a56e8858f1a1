"""The audit log of my organizations, newest first, with filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from audit_log.models import AuditEntry, AuditKind
from foundry.api import ERRORS, ApiError, person
from orgs.access import member_org_ids

router = Router(tags=["audit_log"])


class AuditEntryOut(Schema):
    id: int
    at: datetime
    actor: str
    org: str
    kind: str
    target: str
    details: dict[str, Any]


class AuditPageOut(Schema):
    entries: list[AuditEntryOut]
    next_before: int | None


class AuditQuery(Schema):
    org: str | None = None
    kind: AuditKind | None = None
    actor: str | None = None
    # Keyset pagination: entries with an id below this one.
    before: int | None = Field(None, ge=1)
    limit: int = Field(50, ge=1, le=200)


@router.get("/audit-log", response={200: AuditPageOut, **ERRORS},
            summary="Audit entries of my organizations (newest first)")
def audit_log(request: HttpRequest, q: Query[AuditQuery]) -> AuditPageOut:
    if not 1 <= q.limit <= 200:
        raise ApiError(422, "invalid_request", "limit is 1 to 200")
    orgs = member_org_ids(person(request))
    entries = AuditEntry.objects.filter(org__in=orgs)
    if q.org is not None:
        # Another organization's log looks empty, as if it did not exist.
        entries = entries.filter(org=q.org)
    if q.kind is not None:
        entries = entries.filter(kind=q.kind)
    if q.actor is not None:
        entries = entries.filter(actor=q.actor)
    if q.before is not None:
        entries = entries.filter(pk__lt=q.before)
    page = list(entries.order_by("-pk")[: q.limit + 1])
    more = len(page) > q.limit
    page = page[: q.limit]
    return AuditPageOut(
        entries=[AuditEntryOut.from_orm(e) for e in page],
        next_before=page[-1].pk if more else None,
    )
