"""The full sync, phase by phase. Each function here is the body of one step
of ``github_data.command.full_sync``: it reads GitHub, writes only the rows
that changed, and returns what later steps need (recorded in the step log,
so a resumed sync does not ask GitHub again for finished batches)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from audit_log.append import append
from audit_log.models import AuditKind
from foundry.live import organization_group, publish_on_commit
from foundry.upsert import upsert_rows
from github_data.client import GitHubClient
from github_data.memberships import reconcile_members
from github_data.models import (
    GitHubBranch,
    GitHubMember,
    GitHubPullRequest,
    GitHubRepository,
    SyncState,
    SyncStatus,
)
from github_data.rows import pull_request_fields, pull_request_in, repository_fields
from orgs.actor import organization
from orgs.schemas import PullRequestIn

BATCH_SIZE = 10  # repositories per branch / pull-request step


# Progress goes live at most this often (a batch takes tens of milliseconds;
# a browser needs a few updates a second, and each costs a channel-layer
# round trip). Starts and ends always go out.
PUBLISH_INTERVAL_SECONDS = 0.25
_last_published: dict[str, float] = {}


def report(org: str, **fields: Any) -> None:
    """Progress onto the sync state row, and live to the organization."""
    fields["updated_at"] = timezone.now()
    SyncState.objects.filter(org=org).update(**fields)
    now = time.monotonic()
    if "status" not in fields and now - _last_published.get(org, 0.0) < PUBLISH_INTERVAL_SECONDS:
        return
    _last_published[org] = now
    live = {"status", "phase", "label", "processed", "total"}
    publish_on_commit(
        organization_group(org), "sync.progress", {k: v for k, v in fields.items() if k in live}
    )
    record_on_organization(org)


def record_on_organization(org: str) -> None:
    """The organization keeps the sync's standing (what pages start from),
    as often as progress goes live: a short command, sent with the step."""
    state = SyncState.objects.filter(org=org).first()
    if state is None:
        return
    organization.get_or_create(org=org, create_with_input={"org": org}).send(
        "organization.command.record_sync",
        {
            "status": state.status, "label": state.label, "processed": state.processed,
            "total": state.total,
            "finished": state.status in (SyncStatus.SUCCEEDED, SyncStatus.FAILED),
        },
    )


def begin(org: str, command_id: int) -> None:
    SyncState.objects.get_or_create(org=org)
    report(
        org,
        status=SyncStatus.RUNNING,
        phase="repositories",
        label="Listing repositories",
        processed=0,
        total=0,
        counts={},
        error="",
        command_id=command_id,
        started_at=timezone.now(),
        finished_at=None,
    )
    append(AuditKind.SYNC_STARTED, org=org, target=org, details={"command_id": command_id})


def sync_repositories(org: str, client: GitHubClient) -> dict[str, Any]:
    repos = client.list_installation_repositories()
    incoming = {r.id: repository_fields(org, r) for r in repos}
    counts = upsert_rows(
        GitHubRepository.objects.filter(org=org, github_id__in=incoming),
        incoming,
        model=GitHubRepository,
        key=lambda row: row.github_id,
    )
    report(org, phase="branches", label=f"Found {len(repos)} repositories", total=len(repos))
    pks = dict(
        GitHubRepository.objects.filter(org=org, github_id__in=incoming).values_list(
            "github_id", "pk"
        )
    )
    listed = [
        {"id": r.id, "pk": pks[r.id], "name": r.name, "owner": r.owner_login} for r in repos
    ]
    return {"repos": sorted(listed, key=lambda r: r["name"]), "written": counts.as_dict()}


def sync_branches(
    org: str, client: GitHubClient, repos: list[dict[str, Any]], *, done: int, total: int
) -> dict[str, Any]:
    incoming: dict[Any, dict[str, Any]] = {}
    for repo in repos:
        for branch in client.list_branches(repo["owner"], repo["name"]):
            incoming[(repo["pk"], branch.name)] = {
                "org": org,
                "repository_id": repo["pk"],
                "name": branch.name,
                "head_sha": branch.sha,
            }
    counts = upsert_rows(
        GitHubBranch.objects.filter(repository_id__in=[r["pk"] for r in repos]),
        incoming,
        model=GitHubBranch,
        key=lambda row: (row.repository_id, row.name),
    )
    report(org, label=f"Synced branches for {done} of {total} repositories", processed=done)
    return {"seen": [[pk, name] for pk, name in incoming], "written": counts.as_dict()}


def sync_members(org: str, client: GitHubClient) -> dict[str, Any]:
    # A personal account (``personal-<login>``) has no member list on GitHub.
    members = [] if org.startswith("personal-") else client.list_members(org)
    incoming = {
        m.id: {
            "org": org,
            "github_id": m.id,
            "login": m.login,
            "avatar_url": m.avatar_url or "",
            "account_type": m.type or "User",
        }
        for m in members
    }
    counts = upsert_rows(
        GitHubMember.objects.filter(org=org),
        incoming,
        model=GitHubMember,
        key=lambda row: row.github_id,
    )
    report(org, phase="pull_requests", label=f"Synced {len(members)} members", processed=0)
    memberships = reconcile_members(org, {m.login for m in members})
    return {"seen": sorted(incoming), "written": counts.as_dict(), "memberships": memberships}


def sync_pull_requests(
    org: str,
    client: GitHubClient,
    repos: list[dict[str, Any]],
    *,
    done: int,
    total: int,
    send_to_organization: Callable[[list[PullRequestIn]], None],
) -> dict[str, Any]:
    incoming: dict[Any, dict[str, Any]] = {}
    for_org: list[PullRequestIn] = []
    for repo in repos:
        pk, name = repo["pk"], repo["name"]
        for pr in client.list_open_pull_requests(repo["owner"], repo["name"]):
            incoming[(pk, pr.number)] = pull_request_fields(org, pk, pr)
            for_org.append(pull_request_in(repo["id"], name, pr))
    counts = upsert_rows(
        GitHubPullRequest.objects.filter(repository_id__in=[r["pk"] for r in repos]),
        incoming,
        model=GitHubPullRequest,
        key=lambda row: (row.repository_id, row.number),
    )
    if for_org:
        send_to_organization(for_org)
    report(org, label=f"Synced pull requests for {done} of {total} repositories", processed=done)
    return {
        "seen": [[pk, number] for pk, number in incoming],
        "open": [[p.repo_id, p.number] for p in for_org],
        "written": counts.as_dict(),
    }


def delete_unseen(
    org: str,
    *,
    repo_ids: set[int],
    branches: set[tuple[int, str]],
    members: set[int],
    pulls: set[tuple[int, int]],
) -> dict[str, int]:
    """Rows GitHub no longer reports disappear here too."""
    gone_repos = GitHubRepository.objects.filter(org=org).exclude(github_id__in=repo_ids)
    deleted = {"repos": gone_repos.delete()[0]}
    deleted["branches"] = _delete_unseen_rows(
        GitHubBranch.objects.filter(org=org), ("repository_id", "name"), branches
    )
    deleted["members"] = (
        GitHubMember.objects.filter(org=org).exclude(github_id__in=members).delete()[0]
    )
    deleted["pull_requests"] = _delete_unseen_rows(
        GitHubPullRequest.objects.filter(org=org), ("repository_id", "number"), pulls
    )
    return deleted


def _delete_unseen_rows(
    rows: QuerySet[Any], key: tuple[str, str], seen: set[tuple[Any, Any]]
) -> int:
    """Delete the rows whose ``key`` columns are not in ``seen`` (keys of two
    columns do not fit an ``exclude(..__in=..)``)."""
    stale = [pk for pk, *values in rows.values_list("pk", *key) if tuple(values) not in seen]
    return rows.filter(pk__in=stale).delete()[0]


def finish(org: str, counts: dict[str, Any]) -> None:
    report(
        org,
        status=SyncStatus.SUCCEEDED,
        phase="done",
        label="Sync finished",
        counts=counts,
        finished_at=timezone.now(),
    )
    append(AuditKind.SYNC_SUCCEEDED, org=org, target=org, details=counts)


def fail(org: str, error: str) -> None:
    report(
        org, status=SyncStatus.FAILED, label="Sync failed", error=error, finished_at=timezone.now()
    )
    append(AuditKind.SYNC_FAILED, org=org, target=org, details={"error": error})
