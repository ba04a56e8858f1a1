"""Organizations: mine, one organization's snapshot, its repositories, its
sync, and following the commands it started."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Q
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from foundry.actors.models import Command
from foundry.api import ERRORS, AcceptedOut, accepted, not_found, person
from github_data.actor import github_data
from github_data.models import GitHubRepository, SyncState
from orgs.access import member_org_ids, require_member
from orgs.models import Organization, TaskSummary

router = Router(tags=["orgs"])


class SyncOut(Schema):
    status: str
    phase: str
    label: str
    processed: int
    total: int
    command_id: int | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str = ""


class OrgOut(Schema):
    org_id: str
    login: str
    installation_id: int | None
    installation_status: str
    connected_account: str
    sync: SyncOut | None


class RepositoryOut(Schema):
    github_id: int
    name: str
    full_name: str
    default_branch: str
    private: bool
    tasks: int
    open_prs: int


class OrgSnapshotOut(OrgOut):
    repositories: list[RepositoryOut]


def _member_org(request: HttpRequest, org: str) -> Organization:
    require_member(person(request), org)
    found = Organization.objects.filter(org_id=org).first()
    if found is None:
        raise not_found(f"organization {org}")
    return found


def _sync_out(state: SyncState | None) -> SyncOut | None:
    if state is None:
        return None
    return SyncOut(
        status=state.status, phase=state.phase, label=state.label, processed=state.processed,
        total=state.total, command_id=state.command_id, started_at=state.started_at,
        finished_at=state.finished_at, error=getattr(state, "error", "") or "",
    )


def _org_out(org: Organization, state: SyncState | None) -> dict[str, Any]:
    return {
        "org_id": org.org_id, "login": org.login, "installation_id": org.installation_id,
        "installation_status": org.installation_status,
        "connected_account": org.connected_account, "sync": _sync_out(state),
    }


@router.get("/orgs", response={200: list[OrgOut], **ERRORS}, summary="My organizations")
def my_orgs(request: HttpRequest) -> list[OrgOut]:
    ids = member_org_ids(person(request))
    states = {s.org: s for s in SyncState.objects.filter(org__in=ids)}
    return [
        OrgOut(**_org_out(org, states.get(org.org_id)))
        for org in Organization.objects.filter(org_id__in=ids).order_by("org_id")
    ]


def _repositories(org: str) -> list[RepositoryOut]:
    counts = {
        row["repo_id"]: row
        for row in TaskSummary.objects.filter(org=org).values("repo_id").annotate(
            tasks=Count("pk", filter=Q(archived_reason="")),
            open_prs=Count("pk", filter=Q(pr_state="open")),
        )
    }
    return [
        RepositoryOut(
            github_id=repo.github_id, name=repo.name, full_name=repo.full_name,
            default_branch=repo.default_branch, private=repo.private,
            tasks=counts.get(repo.github_id, {}).get("tasks", 0),
            open_prs=counts.get(repo.github_id, {}).get("open_prs", 0),
        )
        for repo in GitHubRepository.objects.filter(org=org).order_by("name")
    ]


@router.get("/orgs/{org}", response={200: OrgSnapshotOut, **ERRORS},
            summary="An organization with its repositories")
def org_snapshot(request: HttpRequest, org: str) -> OrgSnapshotOut:
    found = _member_org(request, org)
    state = SyncState.objects.filter(org=org).first()
    return OrgSnapshotOut(**_org_out(found, state), repositories=_repositories(org))


@router.get("/orgs/{org}/repos", response={200: list[RepositoryOut], **ERRORS},
            summary="Repositories with their task counts")
def repositories(request: HttpRequest, org: str) -> list[RepositoryOut]:
    _member_org(request, org)
    return _repositories(org)


class WaitQuery(Schema):
    wait: float = 0.0


@router.post("/orgs/{org}/sync", response={200: AcceptedOut, 202: AcceptedOut, **ERRORS},
             summary="Start a full sync (202; ?wait=SECONDS for its result)")
def start_sync(request: HttpRequest, org: str, q: Query[WaitQuery]) -> Status[AcceptedOut]:
    found = _member_org(request, org)
    handle = github_data.get_or_create(org=org, create_with_input={"org": org})
    ref = handle.send(
        "github_data.command.full_sync", {"org": org, "installation_id": found.installation_id}
    )
    return accepted(request, org, ref, q.wait)


@router.get("/orgs/{org}/sync", response={200: SyncOut, **ERRORS}, summary="Sync state")
def sync_state(request: HttpRequest, org: str) -> SyncOut:
    _member_org(request, org)
    out = _sync_out(SyncState.objects.filter(org=org).first())
    return out or SyncOut(
        status="never", phase="", label="", processed=0, total=0, command_id=None,
        started_at=None, finished_at=None,
    )


class CommandOut(Schema):
    id: int
    name: str
    actor: str
    status: str
    result: Any = None
    error_type: str
    error_message: str
    enqueued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def command_out(command: Command) -> CommandOut:
    return CommandOut(
        id=command.pk, name=command.name,
        actor=f"{command.instance.actor_type}:{command.instance.key}", status=command.status,
        result=command.result, error_type=command.error_type,
        error_message=command.error_message, enqueued_at=command.enqueued_at,
        started_at=command.started_at, finished_at=command.finished_at,
    )


@router.get("/orgs/{org}/commands/{command_id}", response={200: CommandOut, **ERRORS},
            summary="Follow a command this organization's actors run")
def follow_command(request: HttpRequest, org: str, command_id: int) -> CommandOut:
    _member_org(request, org)
    command = Command.objects.select_related("instance").filter(pk=command_id).first()
    if command is None or _org_of(command) != org:
        raise not_found(f"command {command_id}")
    return command_out(command)


def _org_of(command: Command) -> str | None:
    from foundry.actors.errors import UnknownActorType
    from foundry.actors.registry import actor_type

    try:
        fields = actor_type(command.instance.actor_type).key_fields_of(command.instance.key)
    except UnknownActorType:
        return None
    return fields.get("org")
