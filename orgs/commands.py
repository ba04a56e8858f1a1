"""Commands of the organization actor. All short: the long work (a full
sync) runs in the github-data actor and arrives here in batches, so sign-in
and task creation never queue behind it."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from foundry.actors import ActorNotFound
from foundry.actors.context import CommandContext
from foundry.live import organization_group, publish_on_commit
from orgs import task_index, task_updates
from orgs.actor import organization
from orgs.models import (
    InstallationStatus,
    Organization,
    OrganizationKind,
    OrgSyncStatus,
    TaskIndexEntry,
    TaskSummary,
)
from orgs.schemas import (
    ApplyPullRequestsIn,
    PullRequestIn,
    ReconcileOpenPullRequestsIn,
    RecordSyncIn,
    RefreshBranchIn,
    RegisterTaskIn,
    SeenAtSignInIn,
    SetInstallationIn,
    TaskUpdateIn,
)


def profile_of(org: str, login: str = "") -> Organization:
    """The organization's profile row, created on first need: a webhook or
    a sync may come before anyone signed in."""
    personal = org.startswith("personal-")
    profile, _ = Organization.objects.get_or_create(
        org_id=org,
        defaults={
            "login": login or org.removeprefix("personal-"),
            "kind": OrganizationKind.PERSONAL if personal else OrganizationKind.ORGANIZATION,
        },
    )
    return profile


def publish_profile(profile: Organization) -> None:
    publish_on_commit(
        organization_group(profile.org_id),
        "organization.changed",
        {
            "installation_status": profile.installation_status,
            "sync_status": profile.sync_status,
        },
    )


@organization.command("organization.command.apply_pull_requests", payload=ApplyPullRequestsIn)
def apply_pull_requests(ctx: CommandContext, payload: ApplyPullRequestsIn) -> dict[str, Any]:
    """Pull requests (a sync batch, or one webhook) as virtual tasks."""
    org = ctx.key_fields["org"]

    def apply() -> dict[str, Any]:
        out = task_index.apply_pull_requests(org, payload.pull_requests)
        if out["changed"]:
            publish_on_commit(
                organization_group(org), "tasks.changed", {"task_ids": out["changed"]}
            )
        return out

    out = ctx.step("apply", apply)
    ctx.step("tell materialized tasks", _tell_materialized_tasks, org, payload.pull_requests)
    return dict(out)


def _tell_materialized_tasks(org: str, pulls: list[PullRequestIn]) -> list[str]:
    """A task that has an actor keeps its own record of its pull request (a
    closed or merged one archives it): tell it. A task without an actor is
    left so: webhooks never create task actors."""
    from tasks.actor import task  # the task app depends on this one, not back

    told = []
    for pr in pulls:
        task_id = TaskIndexEntry.objects.filter(
            org=org, repo_id=pr.repo_id, pr_number=pr.number
        ).values_list("task_id", flat=True).first()
        if task_id is None:
            continue
        try:
            handle = task.get(org=org, task=task_id)
        except ActorNotFound:
            continue
        handle.send("task.command.pull_request_changed", {
            "number": pr.number, "state": pr.state, "url": pr.html_url,
        })
        told.append(task_id)
    return told


@organization.command(
    "organization.command.reconcile_open_pull_requests", payload=ReconcileOpenPullRequestsIn
)
def reconcile_open_pull_requests(
    ctx: CommandContext, payload: ReconcileOpenPullRequestsIn
) -> dict[str, int]:
    """After a full sync: a task whose pull request is no longer open on
    GitHub was closed there (the sync only sees open ones)."""
    org = ctx.key_fields["org"]

    def reconcile() -> dict[str, int]:
        still_open = set(map(tuple, payload.open))
        closed, owners = task_index.close_pull_requests_not_open(org, still_open)
        if closed:
            publish_on_commit(
                organization_group(org), "tasks.changed", {"task_ids": closed + owners}
            )
        return {"closed": len(closed)}

    return ctx.step("reconcile", reconcile)


@organization.command("organization.command.refresh_branch", payload=RefreshBranchIn)
def refresh_branch(ctx: CommandContext, payload: RefreshBranchIn) -> dict[str, Any]:
    """A push or a branch deletion: refresh the summaries of the live tasks
    whose head is that branch of that repository (a bare branch is no task)."""
    org = ctx.key_fields["org"]

    def refresh() -> dict[str, Any]:
        task_ids = task_index.tasks_on_branch(org, payload.repo_id, payload.branch)
        TaskSummary.objects.filter(org=org, task_id__in=task_ids).update(
            head_sha="" if payload.deleted else payload.head_sha,
            updated_at=payload.at or timezone.now(),
        )
        if task_ids:
            publish_on_commit(organization_group(org), "tasks.changed", {"task_ids": task_ids})
        return {"task_ids": task_ids}

    return ctx.step("refresh", refresh)


@organization.command("organization.command.set_installation", payload=SetInstallationIn)
def set_installation(ctx: CommandContext, payload: SetInstallationIn) -> dict[str, Any]:
    org = ctx.key_fields["org"]

    def save() -> dict[str, Any]:
        profile = profile_of(org, payload.login)
        profile.login = payload.login
        profile.installation_status = payload.status
        if payload.installation_id is not None:
            profile.installation_id = payload.installation_id
        if payload.connected_account:
            profile.connected_account = payload.connected_account
        profile.updated_at = timezone.now()
        profile.save()
        publish_profile(profile)
        return {"installation_status": profile.installation_status}

    return ctx.step("save profile", save)


@organization.command("organization.command.seen_at_sign_in", payload=SeenAtSignInIn)
def seen_at_sign_in(ctx: CommandContext, payload: SeenAtSignInIn) -> dict[str, Any]:
    """A member signed in: GitHub's profile of the account, and whether the
    App is installed there as the App itself sees it now."""
    org = ctx.key_fields["org"]

    def save() -> dict[str, Any]:
        profile = profile_of(org, payload.login)
        profile.login = payload.login
        profile.name = payload.name or profile.name
        profile.avatar_url = payload.avatar_url or profile.avatar_url
        profile.kind = payload.kind
        if payload.installation_checked:
            if payload.installation_id is not None:
                profile.installation_id = payload.installation_id
                profile.connected_account = payload.login
                profile.installation_status = (
                    InstallationStatus.SUSPENDED if payload.suspended
                    else InstallationStatus.INSTALLED
                )
            elif profile.installation_status in (
                InstallationStatus.INSTALLED, InstallationStatus.SUSPENDED
            ):
                # Installed once, gone now (a lost "deleted" webhook).
                profile.installation_status = InstallationStatus.REMOVED
        profile.updated_at = timezone.now()
        profile.save()
        publish_profile(profile)
        return {"installation_status": profile.installation_status}

    return ctx.step("save profile", save)


@organization.command("organization.command.record_sync", payload=RecordSyncIn)
def record_sync(ctx: CommandContext, payload: RecordSyncIn) -> dict[str, Any]:
    """github-data's full sync started, moved on, finished or failed: the
    organization keeps where it stands (pages start from it; the live
    progress itself goes straight from the sync to browsers)."""
    org = ctx.key_fields["org"]

    def save() -> dict[str, Any]:
        profile = profile_of(org)
        profile.sync_status = payload.status
        profile.sync_label = payload.label
        profile.sync_processed = payload.processed
        profile.sync_total = payload.total
        if payload.status == OrgSyncStatus.SUCCEEDED:
            profile.synced_at = timezone.now()
        profile.updated_at = timezone.now()
        profile.save()
        if payload.finished:
            publish_profile(profile)
        return {"sync_status": profile.sync_status}

    return ctx.step("save", save)


@organization.command("organization.command.register_task", payload=RegisterTaskIn)
def register_task(ctx: CommandContext, payload: RegisterTaskIn) -> dict[str, Any]:
    """A new task claims its branch: ``claimed`` False (with the reason) when
    a live task or a GitHub branch has it; the task then tries another."""
    org = ctx.key_fields["org"]

    def register() -> dict[str, Any]:
        out = task_updates.register_task(org, payload)
        if out["claimed"]:
            publish_on_commit(
                organization_group(org), "tasks.changed", {"task_ids": [payload.task_id]}
            )
        return out

    return dict(ctx.step("register", register))


@organization.command("organization.command.update_task", payload=TaskUpdateIn)
def update_task(ctx: CommandContext, payload: TaskUpdateIn) -> dict[str, Any]:
    """A materialized task's summary after a change (title, status, owner,
    pull request, +/- lines), and its archived state in the index."""
    org = ctx.key_fields["org"]

    def update() -> dict[str, Any]:
        changed = task_updates.update_task(org, payload)
        if changed:
            publish_on_commit(organization_group(org), "tasks.changed", {"task_ids": changed})
        return {"changed": changed}

    return dict(ctx.step("update", update))
