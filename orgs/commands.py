"""Commands of the organization actor. All short: the long work (a full
sync) runs in the github-data actor and arrives here in batches, so sign-in
and task creation never queue behind it."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from foundry.actors.context import CommandContext
from foundry.live import organization_group, publish_on_commit
from foundry.upsert import upsert_rows
from orgs.actor import organization
from orgs.models import (
    Organization,
    PullRequestState,
    TaskIndexEntry,
    TaskStatus,
    TaskSummary,
)
from orgs.schemas import (
    ApplyPullRequestsIn,
    PullRequestIn,
    ReconcileOpenPullRequestsIn,
    RefreshBranchIn,
    SetInstallationIn,
)

ARCHIVE_REASONS = {"closed": "PR closed", "merged": "PR merged"}


def virtual_task_id(repo_id: int, number: int) -> str:
    """A pull request's task id: stable, so a second sync finds it again."""
    return f"pr-{repo_id}-{number}"


@organization.command("organization.command.apply_pull_requests", payload=ApplyPullRequestsIn)
def apply_pull_requests(ctx: CommandContext, payload: ApplyPullRequestsIn) -> dict[str, Any]:
    org = ctx.key_fields["org"]
    return ctx.step("apply", _apply_pull_requests, org, payload.pull_requests)


def _apply_pull_requests(org: str, pulls: list[PullRequestIn]) -> dict[str, Any]:
    repo_ids = {pr.repo_id for pr in pulls}
    entries = {
        (e.repo_id, e.branch): e
        for e in TaskIndexEntry.objects.filter(org=org, repo_id__in=repo_ids)
    }
    # The task of a pull request is the task on its head branch, if a person
    # already started one there; otherwise a new virtual task.
    index_rows: dict[Any, dict[str, Any]] = {}
    summary_rows: dict[Any, dict[str, Any]] = {}
    for pr in pulls:
        entry = entries.get((pr.repo_id, pr.head_ref))
        task_id = entry.task_id if entry else virtual_task_id(pr.repo_id, pr.number)
        index_rows[task_id] = {
            "org": org,
            "task_id": task_id,
            "repo_id": pr.repo_id,
            "branch": pr.head_ref,
            "pr_number": pr.number,
        }
        closed = pr.state != "open"
        summary_rows[task_id] = {
            "org": org,
            "task_id": task_id,
            "repo_id": pr.repo_id,
            "repo_name": pr.repo_name,
            "title": pr.title,
            "branch": pr.head_ref,
            "head_sha": pr.head_sha,
            "pr_number": pr.number,
            "pr_state": pr.state,
            "pr_url": pr.html_url,
            "author_login": pr.author_login,
            "author_avatar_url": pr.author_avatar_url,
            "status": TaskStatus.ARCHIVED if closed else TaskStatus.IDLE,
            "archived_reason": ARCHIVE_REASONS.get(pr.state, ""),
            "updated_at": pr.updated_at or timezone.now(),
        }
    task_ids = list(index_rows)
    index = upsert_rows(
        TaskIndexEntry.objects.filter(org=org, task_id__in=task_ids),
        index_rows,
        model=TaskIndexEntry,
        key=lambda row: row.task_id,
    )
    summaries = upsert_rows(
        TaskSummary.objects.filter(org=org, task_id__in=task_ids),
        summary_rows,
        model=TaskSummary,
        key=lambda row: row.task_id,
    )
    if index.created or summaries.created or summaries.updated:
        publish_on_commit(organization_group(org), "tasks.changed", {"task_ids": task_ids})
    return {"index": index.as_dict(), "summaries": summaries.as_dict()}


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
        stale = [
            s
            for s in TaskSummary.objects.filter(org=org, pr_state=PullRequestState.OPEN)
            if (s.repo_id, s.pr_number) not in still_open
        ]
        for summary in stale:
            summary.pr_state = PullRequestState.CLOSED
            summary.status = TaskStatus.ARCHIVED
            summary.archived_reason = ARCHIVE_REASONS["closed"]
            summary.updated_at = timezone.now()
        TaskSummary.objects.bulk_update(
            stale, ["pr_state", "status", "archived_reason", "updated_at"]
        )
        if stale:
            publish_on_commit(
                organization_group(org), "tasks.changed", {"task_ids": [s.task_id for s in stale]}
            )
        return {"closed": len(stale)}

    return ctx.step("reconcile", reconcile)


@organization.command("organization.command.refresh_branch", payload=RefreshBranchIn)
def refresh_branch(ctx: CommandContext, payload: RefreshBranchIn) -> dict[str, Any]:
    """A push or a branch deletion: refresh the summary of the task on that
    branch, if there is one (a bare branch is not a task)."""
    org = ctx.key_fields["org"]

    def refresh() -> dict[str, Any]:
        summary = TaskSummary.objects.filter(
            org=org, repo_id=payload.repo_id, branch=payload.branch
        ).first()
        if summary is None:
            return {"task_id": None}
        summary.head_sha = "" if payload.deleted else payload.head_sha
        summary.updated_at = payload.at or timezone.now()
        summary.save(update_fields=["head_sha", "updated_at"])
        publish_on_commit(organization_group(org), "tasks.changed", {"task_ids": [summary.task_id]})
        return {"task_id": summary.task_id}

    return ctx.step("refresh", refresh)


@organization.command("organization.command.set_installation", payload=SetInstallationIn)
def set_installation(ctx: CommandContext, payload: SetInstallationIn) -> dict[str, Any]:
    org = ctx.key_fields["org"]

    def save() -> dict[str, Any]:
        profile, _ = Organization.objects.get_or_create(
            org_id=org, defaults={"login": payload.login}
        )
        profile.login = payload.login
        profile.installation_status = payload.status
        if payload.installation_id is not None:
            profile.installation_id = payload.installation_id
        if payload.connected_account:
            profile.connected_account = payload.connected_account
        profile.updated_at = timezone.now()
        profile.save()
        publish_on_commit(
            organization_group(org),
            "organization.changed",
            {"installation_status": profile.installation_status},
        )
        return {"installation_status": profile.installation_status}

    return ctx.step("save profile", save)
