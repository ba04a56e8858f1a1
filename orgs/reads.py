"""Read actions of the organization actor: plain queries of its own
tables, run in the caller, never queued."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Q

from foundry.actors import ActorError
from foundry.actors.handles import ActorHandle
from orgs.actor import organization
from orgs.models import (
    InstallationStatus,
    Organization,
    OrganizationKind,
    OrgSyncStatus,
    TaskIndexEntry,
    TaskStatus,
    TaskSummary,
)
from users.models import Membership, UserProfile


class TaskNotFound(ActorError):
    def __init__(self, org: str, task_id: str) -> None:
        super().__init__(f"task {task_id!r} is not in the task index of organization {org!r}")
        self.org = org
        self.task_id = task_id


@dataclass(frozen=True)
class TaskIndexEntryOut:
    task_id: str
    repo_id: int
    branch: str
    pr_number: int | None
    # Where ``branch`` lives (push there, open the PR from ``<owner>:<branch>``):
    # repository ``repo_id`` itself, or a fork (id None: the fork was deleted).
    head_repo_id: int | None
    head_repo_full_name: str
    head_repo_fork: bool
    owns_branch: bool
    archived: bool


@organization.read("organization.read.task_index_entry")
def get_task_index_entry(handle: ActorHandle, task_id: str) -> TaskIndexEntryOut:
    org = handle.fields["org"]
    entry = TaskIndexEntry.objects.filter(org=org, task_id=task_id).first()
    if entry is None:
        raise TaskNotFound(org, task_id)
    return TaskIndexEntryOut(
        task_id=entry.task_id,
        repo_id=entry.repo_id,
        branch=entry.branch,
        pr_number=entry.pr_number,
        head_repo_id=entry.head_repo_id,
        head_repo_full_name=entry.head_repo_full_name,
        head_repo_fork=entry.head_repo_fork,
        owns_branch=entry.owns_branch,
        archived=entry.archived,
    )


@organization.read("organization.read.resolve_task_repo_id")
def resolve_task_repo_id(handle: ActorHandle, task_id: str) -> int:
    """The repository of a task, from the organization's own index (no
    question to any other actor)."""
    return get_task_index_entry(handle, task_id).repo_id


@organization.read("organization.read.task_summaries")
def task_summaries(handle: ActorHandle, *, limit: int = 100) -> list[TaskSummary]:
    return list(
        TaskSummary.objects.filter(org=handle.fields["org"]).order_by("-updated_at")[:limit]
    )


# --- the two reads pages start from ---------------------------------------


@dataclass(frozen=True)
class OrganizationCard:
    """One organization as the person's list shows it."""

    org_id: str
    login: str  # the GitHub account: the organization's, or the person's
    name: str
    avatar_url: str
    kind: str
    role: str
    installation_status: str
    sync_status: str
    sync_label: str
    sync_processed: int
    sync_total: int
    synced_at: datetime | None

    @property
    def installation_label(self) -> str:
        return str(InstallationStatus(self.installation_status).label)


@dataclass(frozen=True)
class AppSnapshot:
    login: str
    name: str
    avatar_url: str
    is_staff: bool
    organizations: list[OrganizationCard]


@dataclass(frozen=True)
class RepositoryRow:
    repo_id: int
    name: str
    full_name: str
    html_url: str
    open_tasks: int
    tasks: int


@dataclass(frozen=True)
class OrganizationSnapshot:
    card: OrganizationCard
    repositories: list[RepositoryRow]


def _card(org_id: str, role: str, profile: Organization | None) -> OrganizationCard:
    """A profile not written yet (its first command still queued) reads as
    what is known: the id, nothing installed, never synced."""
    personal = org_id.startswith("personal-")
    if profile is None:
        return OrganizationCard(
            org_id=org_id, login=org_id.removeprefix("personal-"),
            name=org_id.removeprefix("personal-"), avatar_url="",
            kind=OrganizationKind.PERSONAL if personal else OrganizationKind.ORGANIZATION,
            role=role, installation_status=InstallationStatus.NOT_INSTALLED,
            sync_status=OrgSyncStatus.NEVER, sync_label="", sync_processed=0, sync_total=0,
            synced_at=None,
        )
    return OrganizationCard(
        org_id=org_id, login=profile.login or org_id.removeprefix("personal-"),
        name=profile.display_name, avatar_url=profile.avatar_url,
        kind=profile.kind, role=role, installation_status=profile.installation_status,
        sync_status=profile.sync_status, sync_label=profile.sync_label,
        sync_processed=profile.sync_processed, sync_total=profile.sync_total,
        synced_at=profile.synced_at,
    )


def app_snapshot(user: Any) -> AppSnapshot:
    """The signed-in person and their organizations, each with its
    installation and sync state: their memberships and the organizations'
    profile rows, two queries."""
    memberships = list(Membership.objects.filter(user_id=user.pk).values_list("org", "role"))
    profiles = Organization.objects.in_bulk([org for org, _ in memberships], field_name="org_id")
    me = UserProfile.objects.filter(user_id=user.pk).first()
    cards = [_card(org, role, profiles.get(org)) for org, role in memberships]
    # Organizations first, then the personal account; by name within each.
    cards.sort(key=lambda c: (c.kind == OrganizationKind.PERSONAL, c.name.lower()))
    return AppSnapshot(
        login=me.login if me else user.get_username(),
        name=me.name if me else "",
        avatar_url=me.avatar_url if me else "",
        is_staff=bool(user.is_staff),
        organizations=cards,
    )


def organization_snapshot(org_id: str, *, role: str = "") -> OrganizationSnapshot:
    """The organization's profile and its repositories with their task
    counts (the repository list is github-data's cache, read as is)."""
    from github_data.models import GitHubRepository

    card = _card(org_id, role, Organization.objects.filter(org_id=org_id).first())
    counts: dict[int, dict[str, int]] = {}
    for row in (
        TaskSummary.objects.filter(org=org_id)
        .values("repo_id")
        .annotate(total=Count("id"), open=Count("id", filter=~Q(status=TaskStatus.ARCHIVED)))
    ):
        counts[row["repo_id"]] = {"tasks": row["total"], "open": row["open"]}
    repositories = [
        RepositoryRow(
            repo_id=repo.github_id, name=repo.name, full_name=repo.full_name,
            html_url=repo.html_url,
            open_tasks=counts.get(repo.github_id, {}).get("open", 0),
            tasks=counts.get(repo.github_id, {}).get("tasks", 0),
        )
        for repo in GitHubRepository.objects.filter(org=org_id).order_by("name")
    ]
    return OrganizationSnapshot(card=card, repositories=repositories)


@organization.read("organization.read.snapshot")
def snapshot(handle: ActorHandle) -> OrganizationSnapshot:
    return organization_snapshot(handle.fields["org"])
