"""Read actions of the task actor: plain queries of its record, and the
git state its sandbox computes. They run in the caller and never queue.

A sandbox that is not ready (never provisioned, paused, gone) or whose agent
server does not answer is an answer (``git=None`` with the reason), never
an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from foundry.actors.handles import ActorHandle
from sandboxes.actor import sandbox
from sandboxes.agent_errors import AgentTransportError
from sandboxes.reads import SandboxOut, get_sandbox
from tasks import records
from tasks.actor import task
from tasks.errors import TaskError
from tasks.git_state import FileChange, GitState, file_diff, git_state
from tasks.models import Task
from tasks.workspace import sandbox_git


@dataclass(frozen=True)
class TaskSummaryOut:
    org: str
    task_id: str
    repo_full_name: str
    branch: str
    title: str
    status: str
    archived_reason: str
    owner_login: str
    pr_number: int | None
    pr_state: str
    pr_url: str
    lines_added: int
    lines_removed: int
    files_changed: int
    updated_at: datetime


@dataclass(frozen=True)
class PullRequestOut:
    number: int
    state: str
    url: str


@dataclass(frozen=True)
class TaskDetailOut:
    summary: TaskSummaryOut
    base_branch: str
    origin: str
    prompt: str
    pull_request: PullRequestOut | None
    sandbox: SandboxOut | None
    git: GitState | None
    git_unavailable: str = ""  # why ``git`` is None
    files: list[FileChange] = field(default_factory=list)


def _record(handle: ActorHandle) -> Task:
    fields = handle.fields
    return records.row(fields["org"], fields["task"])


def _summary(row: Task) -> TaskSummaryOut:
    return TaskSummaryOut(
        org=row.org, task_id=row.task_id, repo_full_name=row.repo_full_name,
        branch=row.branch, title=row.title, status=records.status_of(row),
        archived_reason=row.archived_reason, owner_login=records.owner_login(row),
        pr_number=row.pr_number, pr_state=row.pr_state, pr_url=row.pr_url,
        lines_added=row.lines_added, lines_removed=row.lines_removed,
        files_changed=row.files_changed, updated_at=row.updated_at,
    )


@task.read("task.read.summary")
def task_summary(handle: ActorHandle) -> TaskSummaryOut:
    return _summary(_record(handle))


def live_git_state(row: Task) -> tuple[GitState | None, str]:
    """The branch's git state from the sandbox, or None and why."""
    try:
        with sandbox_git(row.org, row.task_id) as (proc, sandbox_row):
            return git_state(proc, sandbox_row.repo_path, branch=row.branch,
                             base_branch=row.base_branch), ""
    except (TaskError, AgentTransportError) as exc:
        return None, str(exc)


@task.read("task.read.detail")
def task_detail(handle: ActorHandle, *, with_git: bool = True) -> TaskDetailOut:
    """The record, its pull request, its sandbox and (``with_git``) the git
    state computed in the sandbox now."""
    row = _record(handle)
    box = sandbox.get(org=row.org, sandbox=row.task_id) if _has_sandbox(row) else None
    state, why = live_git_state(row) if with_git else (None, "not asked")
    return TaskDetailOut(
        summary=_summary(row), base_branch=row.base_branch, origin=row.origin,
        prompt=row.prompt,
        pull_request=(PullRequestOut(row.pr_number, row.pr_state, row.pr_url)
                      if row.pr_number is not None else None),
        sandbox=get_sandbox(box) if box is not None else None,
        git=state, git_unavailable=why, files=state.files if state else [],
    )


def _has_sandbox(row: Task) -> bool:
    from sandboxes.models import Sandbox

    return Sandbox.objects.filter(org=row.org, sandbox_id=row.task_id).exists()


@task.read("task.read.file_diff")
def task_file_diff(handle: ActorHandle, path: str) -> str:
    """One file's diff against the branch's last commit, from the sandbox."""
    row = _record(handle)
    with sandbox_git(row.org, row.task_id) as (proc, sandbox_row):
        return file_diff(proc, sandbox_row.repo_path, path)
