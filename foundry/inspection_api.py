"""Actor inspection over the API, for staff: instances, their commands,
each command's steps (what the admin's inspector shows)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from foundry.actors.models import ActorInstance, Command, Step
from foundry.api import ERRORS, ApiError, not_found, person


def _staff_only(request: HttpRequest) -> None:
    if not person(request).is_staff:
        raise ApiError(403, "forbidden", "actor inspection is for staff")


router = Router(tags=["actors"])


class InstanceOut(Schema):
    id: int
    actor_type: str
    key: str
    created_at: datetime
    lease_owner: str


class InstanceQuery(Schema):
    actor_type: str | None = None
    key: str | None = None
    before: int | None = Field(None, ge=1)
    limit: int = Field(50, ge=1, le=200)


def _limit(limit: int) -> int:
    if not 1 <= limit <= 200:
        raise ApiError(422, "invalid_request", "limit is 1 to 200")
    return limit


@router.get("/instances", response={200: list[InstanceOut], **ERRORS},
            summary="Actor instances, newest first (staff)")
def instances(request: HttpRequest, q: Query[InstanceQuery]) -> list[InstanceOut]:
    _staff_only(request)
    rows = ActorInstance.objects.all()
    if q.actor_type:
        rows = rows.filter(actor_type=q.actor_type)
    if q.key:
        rows = rows.filter(key=q.key)
    if q.before is not None:
        rows = rows.filter(pk__lt=q.before)
    return [InstanceOut.from_orm(r) for r in rows.order_by("-pk")[: _limit(q.limit)]]


class CommandSummaryOut(Schema):
    id: int
    name: str
    status: str
    attempts: int
    error_type: str
    error_message: str
    caused_by_id: int | None
    enqueued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class PageQuery(Schema):
    before: int | None = Field(None, ge=1)
    limit: int = Field(50, ge=1, le=200)


@router.get("/instances/{instance_id}/commands",
            response={200: list[CommandSummaryOut], **ERRORS},
            summary="An instance's commands, newest first (staff)")
def commands(request: HttpRequest, instance_id: int, q: Query[PageQuery]
             ) -> list[CommandSummaryOut]:
    _staff_only(request)
    if not ActorInstance.objects.filter(pk=instance_id).exists():
        raise not_found(f"actor instance {instance_id}")
    rows = Command.objects.filter(instance_id=instance_id)
    if q.before is not None:
        rows = rows.filter(pk__lt=q.before)
    return [CommandSummaryOut.from_orm(c) for c in rows.order_by("-pk")[: _limit(q.limit)]]


class StepOut(Schema):
    index: int
    name: str
    status: str
    input: Any = None
    output: Any = None
    error_type: str
    error_message: str
    attempt: int
    started_at: datetime
    finished_at: datetime


class CommandDetailOut(CommandSummaryOut):
    payload: Any = None
    result: Any = None
    steps: list[StepOut]


@router.get("/commands/{command_id}", response={200: CommandDetailOut, **ERRORS},
            summary="A command with its steps (staff)")
def command(request: HttpRequest, command_id: int) -> CommandDetailOut:
    _staff_only(request)
    found = Command.objects.filter(pk=command_id).first()
    if found is None:
        raise not_found(f"command {command_id}")
    steps = [StepOut.from_orm(s) for s in Step.objects.filter(command=found).order_by("index")]
    return CommandDetailOut(
        **CommandSummaryOut.from_orm(found).model_dump(), payload=found.payload,
        result=found.result, steps=steps,
    )
