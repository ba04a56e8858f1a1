"""Commands of the task actor (its record, git and pull request; the
session commands live in ``tasks/session_commands.py``).

Promises:

- A task actor exists only once a person acted on the task
  (``tasks/materialize.py``); ``task.command.initialize`` writes its record
  from the organization's task index, ``task.command.create`` from a prompt.
- Every change saves the record and pushes the task's summary to the
  organization in one step (``records.save_and_push``): the sidebar never
  reads a task actor and never misses a change.
- Outside work (the sandbox, git, GitHub's API) happens in steps that may
  run twice after a crash: pushing the same head again, and opening a pull
  request that already exists (it is found first), change nothing.
- A command that needs the sandbox waits for ``sandbox.command.ensure``
  outside any step: the command is suspended, no worker is held.

Limits: a fork's branch is never pushed from here; ``push`` commits the
whole working tree with the task's title as the message.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.utils import timezone

from audit_log.append import append as audit
from audit_log.models import SYSTEM, AuditKind
from foundry.actors.context import CommandContext
from github_data.models import GitHubRepository
from orgs.actor import organization
from orgs.task_index import ARCHIVE_REASONS
from tasks import naming, records, workspace
from tasks.actor import task
from tasks.errors import TaskError
from tasks.git_state import git_state
from tasks.git_state import revert_file as revert_in_sandbox
from tasks.models import Task, TaskOrigin
from tasks.pull_requests import open_pull_request
from tasks.schemas import (
    ActingIn,
    ArchiveIn,
    ChangeOwnerIn,
    CreateTaskIn,
    PublishPrIn,
    PullRequestChangedIn,
    RenameIn,
    RevertFileIn,
)
from users.feed import notify_owner
from users.feed_models import NotificationKind

BRANCH_ATTEMPTS = 8
PR_NOTIFICATIONS = {"merged": NotificationKind.PR_MERGED, "closed": NotificationKind.PR_CLOSED}


def _key(ctx: CommandContext) -> tuple[str, str]:
    fields = ctx.key_fields
    return fields["org"], fields["task"]


def new_task_id() -> str:
    """A random task id (a pull request's virtual task is ``pr-…``)."""
    return f"t-{secrets.token_hex(6)}"


def _change(ctx: CommandContext, name: str, change: Any) -> dict[str, Any]:
    """One step: ``change(task)`` on the record, saved and pushed up."""
    org, task_id = _key(ctx)

    def apply() -> dict[str, Any]:
        row = records.row(org, task_id)
        change(row)
        return records.save_and_push(row)

    return dict(ctx.step(name, apply))


@task.command("task.command.initialize")
def initialize(ctx: CommandContext, payload: Any) -> dict[str, Any]:
    """The record of a virtual task, from the organization's task index."""
    org, task_id = _key(ctx)
    return dict(ctx.step("initialize from index", records.initialize_from_index, org, task_id))


def _prepare(org: str, payload: CreateTaskIn) -> dict[str, Any]:
    repo = GitHubRepository.objects.filter(org=org, full_name=payload.repo_full_name).first()
    if repo is None:
        raise TaskError(f"organization {org!r} has no repository {payload.repo_full_name!r}")
    if payload.owner_login:
        records.person(org, payload.owner_login)
    try:
        title = naming.title_from_prompt(payload.prompt)
        if payload.branch_name:
            naming.sanitize_branch(payload.branch_name)
    except ValueError as exc:
        raise TaskError(str(exc)) from exc
    return {"repo_id": repo.github_id, "repo_name": repo.name, "full_name": repo.full_name,
            "default_branch": repo.default_branch, "title": title}


@task.command("task.command.create", payload=CreateTaskIn)
def create(ctx: CommandContext, payload: CreateTaskIn) -> dict[str, Any]:
    """A new task from a prompt: a branch claimed in the organization's task
    index (retried with another name on conflict), then the record. The
    session with the prompt is started by the caller once this returns."""
    org, task_id = _key(ctx)
    repo = ctx.step("prepare", _prepare, org, payload)
    org_handle = organization.get_or_create(org=org, create_with_input={"org": org})
    avatar = records.avatar_of(org, payload.owner_login)
    conflicts: list[str] = []
    for attempt in range(BRANCH_ATTEMPTS):
        branch = ctx.step("choose branch", naming.branch_candidate, payload.branch_name, attempt)
        claim = org_handle.send("organization.command.register_task", {
            "task_id": task_id, "repo_id": repo["repo_id"], "repo_name": repo["repo_name"],
            "repo_full_name": repo["full_name"], "branch": branch, "title": repo["title"],
            "owner_login": payload.owner_login, "owner_avatar_url": avatar,
        }, wait=True)
        if claim["claimed"]:
            break
        conflicts.append(claim["reason"])
    else:
        raise TaskError(f"no free branch for task {org}/{task_id} after"
                        f" {BRANCH_ATTEMPTS} tries: {'; '.join(conflicts)}")

    def write() -> dict[str, Any]:
        owner = records.person(org, payload.owner_login) if payload.owner_login else None
        row = Task.objects.create(
            org=org, task_id=task_id, repo_id=repo["repo_id"], repo_full_name=repo["full_name"],
            branch=branch, base_branch=repo["default_branch"], title=repo["title"],
            origin=TaskOrigin.PROMPT, head_repo_full_name=repo["full_name"],
            prompt=payload.prompt, owner=owner,
        )
        audit(AuditKind.TASK_CREATED, actor=payload.owner_login or SYSTEM, org=org,
              target=task_id, details={"branch": branch, "repo": repo["full_name"],
                                       "branch_conflicts": conflicts})
        return records.save_and_push(row)

    return {**ctx.step("write record", write), "branch_conflicts": conflicts}


@task.command("task.command.rename", payload=RenameIn)
def rename(ctx: CommandContext, payload: RenameIn) -> dict[str, Any]:
    """A new title; the branch never changes."""
    title = " ".join(payload.title.split())
    if not title:
        raise TaskError("a task's title cannot be blank")

    def change(row: Task) -> None:
        row.title = title

    return _change(ctx, "rename", change)


@task.command("task.command.archive", payload=ArchiveIn)
def archive(ctx: CommandContext, payload: ArchiveIn) -> dict[str, Any]:
    """Archived (its branch is given up in the index); the transcript stays."""
    reason = payload.reason or (
        f"archived by {payload.acting_login}" if payload.acting_login else "archived"
    )

    def change(row: Task) -> None:
        row.archived, row.archived_reason = True, reason

    return _change(ctx, "archive", change)


@task.command("task.command.unarchive", payload=ActingIn)
def unarchive(ctx: CommandContext, payload: ActingIn) -> dict[str, Any]:
    def change(row: Task) -> None:
        row.archived, row.archived_reason = False, ""

    return _change(ctx, "unarchive", change)


@task.command("task.command.change_owner", payload=ChangeOwnerIn)
def change_owner(ctx: CommandContext, payload: ChangeOwnerIn) -> dict[str, Any]:
    """The person whose GitHub token pushes and opens the PR (KEEP 11): a
    member of the organization who has signed in."""
    org, task_id = _key(ctx)

    def change(row: Task) -> None:
        before = records.owner_login(row)
        row.owner = records.person(org, payload.login)
        if before != payload.login:
            audit(AuditKind.OWNER_CHANGED, actor=payload.acting_login or SYSTEM, org=org,
                  target=task_id, details={"from": before, "to": payload.login})

    return _change(ctx, "change owner", change)


def _ensure_sandbox(ctx: CommandContext) -> None:
    org, task_id = _key(ctx)
    row = ctx.step("read record", lambda: records.describe(records.row(org, task_id)))
    if row["status"] == "archived":
        raise TaskError(f"task {org}/{task_id} is archived ({row['archived_reason']})")
    workspace.ensure_sandbox(records.row(org, task_id))


def _push(ctx: CommandContext, acting_login: str) -> dict[str, Any]:
    org, task_id = _key(ctx)
    _ensure_sandbox(ctx)
    pushed = ctx.step("push", lambda: workspace.commit_and_push(records.row(org, task_id)))

    def record() -> dict[str, Any]:
        row = records.row(org, task_id)
        row.pushed_at = timezone.now()
        _store_git_state(row)
        audit(AuditKind.BRANCH_PUSHED, actor=acting_login or SYSTEM, org=org, target=task_id,
              details={"branch": row.branch, "head_sha": pushed["head_sha"],
                       "as_app": pushed["as_app"]})
        return {**records.save_and_push(row), **pushed}

    return dict(ctx.step("record push", record))


@task.command("task.command.push", payload=ActingIn)
def push(ctx: CommandContext, payload: ActingIn) -> dict[str, Any]:
    """Commit the working tree and push the branch, as the owner (or the App)."""
    return _push(ctx, payload.acting_login)


@task.command("task.command.publish_pr", payload=PublishPrIn)
def publish_pr(ctx: CommandContext, payload: PublishPrIn) -> dict[str, Any]:
    """Push, then open the pull request through GitHub's API as the owner
    (or the App); its number and state go on the record and the summary."""
    org, task_id = _key(ctx)
    _push(ctx, payload.acting_login)

    def open_it() -> dict[str, Any]:
        row = records.row(org, task_id)
        if row.pr_number is not None and row.pr_state == "open":
            return {"number": row.pr_number, "url": row.pr_url, "state": "open",
                    "existed": True}
        opened = open_pull_request(row, title=payload.title or row.title, body=payload.body,
                                   draft=payload.draft)
        return {"number": opened.number, "url": opened.url, "state": opened.state,
                "existed": opened.existed}

    opened = ctx.step("open pull request", open_it)

    def record() -> dict[str, Any]:
        row = records.row(org, task_id)
        row.pr_number, row.pr_url, row.pr_state = opened["number"], opened["url"], "open"
        if not opened["existed"]:
            audit(AuditKind.PR_OPENED, actor=payload.acting_login or SYSTEM, org=org,
                  target=task_id, details={"number": opened["number"], "url": opened["url"]})
        return records.save_and_push(row)

    return dict(ctx.step("record pull request", record))


def _store_git_state(row: Task) -> None:
    """+/- lines and changed files of the working tree, from the sandbox."""
    with workspace.sandbox_git(row.org, row.task_id) as (proc, sandbox_row):
        state = git_state(proc, sandbox_row.repo_path, branch=row.branch,
                          base_branch=row.base_branch)
    row.lines_added, row.lines_removed = state.lines_added, state.lines_removed
    row.files_changed = len(state.files)


@task.command("task.command.refresh_git_state", payload=ActingIn)
def refresh_git_state(ctx: CommandContext, payload: ActingIn) -> dict[str, Any]:
    """Recount the changes in the sandbox (after a turn, a revert, a push)
    and push the summary's +/- lines."""
    return _change(ctx, "refresh git state", _store_git_state)


@task.command("task.command.revert_file", payload=RevertFileIn)
def revert_file(ctx: CommandContext, payload: RevertFileIn) -> dict[str, Any]:
    """One file back to the branch's last commit (a new file is removed)."""
    org, task_id = _key(ctx)
    _ensure_sandbox(ctx)

    def change(row: Task) -> None:
        with workspace.sandbox_git(org, task_id) as (proc, sandbox_row):
            revert_in_sandbox(proc, sandbox_row.repo_path, payload.path)
        _store_git_state(row)

    return _change(ctx, "revert file", change)


@task.command("task.command.pull_request_changed", payload=PullRequestChangedIn)
def pull_request_changed(ctx: CommandContext, payload: PullRequestChangedIn) -> dict[str, Any]:
    """The task's pull request changed on GitHub (the organization tells a
    materialized task): closed or merged archives the task with the reason."""

    def change(row: Task) -> None:
        row.pr_number, row.pr_state = payload.number, payload.state
        row.pr_url = payload.url or row.pr_url
        if payload.state in ARCHIVE_REASONS:
            row.archived, row.archived_reason = True, ARCHIVE_REASONS[payload.state]
        elif row.archived and row.archived_reason in ARCHIVE_REASONS.values():
            row.archived, row.archived_reason = False, ""  # reopened

    changed = _change(ctx, "pull request changed", change)
    if payload.state in PR_NOTIFICATIONS:
        org, task_id = _key(ctx)
        ctx.step("notify owner", notify_owner, org, task_id, PR_NOTIFICATIONS[payload.state],
                 f"pr/{payload.number}/{payload.state}",
                 message=f"PR #{payload.number} {payload.state}")
    return changed
