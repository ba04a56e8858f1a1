"""A task over the API: its detail, creation from a prompt, and the task
actor's commands (rename, archive, owner, push, PR, git, revert).

Every command answers through ``accepted``: 202 with the command to follow,
or its result when it finished within ``?wait=SECONDS`` (the fast ones wait
a few seconds by default; push and PR, which run git, do not). A command
that fails is a 409 naming why.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja import Field, Query, Schema, Status

from foundry.actors.errors import CommandFailed, CommandTimeout
from foundry.api import ERRORS, AcceptedOut, ApiError, accepted, person
from github_data.models import GitHubRepository
from orgs.access import require_member
from sandboxes.agent_errors import AgentTransportError
from tasks.api import router
from tasks.api_access import acted_on, member_task
from tasks.errors import TaskError
from tasks.materialize import create_task
from users.feed import bump_task
from users.models import Membership

FAST_WAIT = 10.0


class WaitQuery(Schema):
    wait: float = Field(0.0, ge=0, le=600)


class FastWaitQuery(Schema):
    wait: float = Field(FAST_WAIT, ge=0, le=600)


class FileChangeOut(Schema):
    path: str
    status: str
    added: int
    removed: int


class GitStateOut(Schema):
    branch: str
    base_branch: str
    ahead: int
    behind: int
    lines_added: int
    lines_removed: int
    files: list[FileChangeOut]


class SandboxStateOut(Schema):
    provider: str
    status: str
    detail: str
    branch: str
    last_keepalive_at: datetime | None


class PullRequestOut(Schema):
    number: int
    state: str
    url: str


class TaskDetailOut(Schema):
    task_id: str
    repo_full_name: str
    branch: str
    base_branch: str
    title: str
    status: str
    archived_reason: str
    owner_login: str
    origin: str
    prompt: str
    lines_added: int
    lines_removed: int
    files_changed: int
    updated_at: datetime
    pull_request: PullRequestOut | None
    sandbox: SandboxStateOut | None
    git: GitStateOut | None
    git_unavailable: str


def _git_out(state: Any) -> GitStateOut | None:
    if state is None:
        return None
    return GitStateOut(
        branch=state.branch, base_branch=state.base_branch, ahead=state.ahead,
        behind=state.behind, lines_added=state.lines_added, lines_removed=state.lines_removed,
        files=[FileChangeOut(path=f.path, status=f.status, added=f.added, removed=f.removed)
               for f in state.files],
    )


class DetailQuery(Schema):
    git: bool = True  # compute the git state in the sandbox now


@router.get("/orgs/{org}/tasks/{task_id}", response={200: TaskDetailOut, **ERRORS},
            summary="A task's detail: record, pull request, sandbox and git state"
                    " (opening a virtual task materializes it)")
def task_detail(request: HttpRequest, org: str, task_id: str,
                q: Query[DetailQuery]) -> TaskDetailOut:
    detail = acted_on(request, org, task_id, ready=True).read(
        "task.read.detail", with_git=q.git)
    bump_task(person(request).pk, org, task_id, "opened")
    s, box = detail.summary, detail.sandbox
    return TaskDetailOut(
        task_id=s.task_id, repo_full_name=s.repo_full_name, branch=s.branch,
        base_branch=detail.base_branch, title=s.title, status=s.status,
        archived_reason=s.archived_reason, owner_login=s.owner_login, origin=detail.origin,
        prompt=detail.prompt, lines_added=s.lines_added, lines_removed=s.lines_removed,
        files_changed=s.files_changed, updated_at=s.updated_at,
        pull_request=(PullRequestOut(number=detail.pull_request.number,
                                     state=detail.pull_request.state,
                                     url=detail.pull_request.url)
                      if detail.pull_request else None),
        sandbox=(SandboxStateOut(provider=box.provider, status=box.status, detail=box.detail,
                                 branch=box.branch, last_keepalive_at=box.last_keepalive_at)
                 if box else None),
        git=_git_out(detail.git), git_unavailable=detail.git_unavailable,
    )


# --- creation from a prompt -----------------------------------------------------------


class TaskIn(Schema):
    repo: str = Field(min_length=1, max_length=200, description="name or owner/name")
    prompt: str = Field(min_length=1, max_length=100_000)
    branch_name: str = Field("", max_length=100)
    agent: str | None = Field(None, max_length=64)
    model: str | None = Field(None, max_length=128)


class TaskCreatedOut(AcceptedOut):
    task_id: str
    branch: str
    session_id: str


def _repo_full_name(org: str, repo: str) -> str:
    found = GitHubRepository.objects.filter(org=org, name=repo.split("/")[-1]).first()
    if found is None or (("/" in repo) and found.full_name != repo):
        raise ApiError(422, "unknown_repository", f"organization {org} has no repository {repo}")
    return found.full_name


@router.post("/orgs/{org}/tasks",
             response={200: TaskCreatedOut, 202: TaskCreatedOut, **ERRORS},
             summary="A new task from a prompt, and a session sent the prompt (202;"
                     " ?wait=SECONDS for the session to open)")
def create(request: HttpRequest, org: str, body: TaskIn,
           q: Query[WaitQuery]) -> Status[TaskCreatedOut]:
    user = person(request)
    require_member(user, org)
    full_name = _repo_full_name(org, body.repo)
    if not body.prompt.strip():
        raise ApiError(422, "invalid_request", "the prompt is empty")
    try:
        made = create_task(org, full_name, body.prompt, branch_name=body.branch_name,
                           owner_login=user.username)
    except (TaskError, CommandFailed) as exc:
        raise ApiError(422, "invalid_request", str(exc)) from exc
    except CommandTimeout as exc:
        raise ApiError(409, "not_ready", "the task was not written in time (is a worker"
                       " running?)") from exc
    task_id = made["task_id"]
    handle = acted_on(request, org, task_id)
    session_id = uuid.uuid4().hex[:12]
    ref = handle.send("task.command.create_session", {
        "session_id": session_id, "agent": body.agent, "model": body.model,
        "as_user": user.pk, "title": "",
    })
    # Queued behind the session's creation: the instance runs them in order.
    handle.send("task.command.send_message", {
        "session_id": session_id, "text": body.prompt, "as_user": user.pk,
        "message_id": uuid.uuid4().hex[:12],
    })
    out = accepted(request, org, ref, q.wait)
    return Status(out.status_code, TaskCreatedOut(
        **out.value.model_dump(), task_id=task_id, branch=made["branch"], session_id=session_id))


# --- the task actor's commands ---------------------------------------------------------


def _send(request: HttpRequest, org: str, task_id: str, name: str, body: dict[str, Any],
          wait: float) -> Status[AcceptedOut]:
    handle = acted_on(request, org, task_id)
    ref = handle.send(name, {**body, "acting_login": person(request).username})
    return accepted(request, org, ref, wait)


COMMAND = {200: AcceptedOut, 202: AcceptedOut, **ERRORS}


class RenameIn(Schema):
    title: str = Field(min_length=1, max_length=500)


@router.post("/orgs/{org}/tasks/{task_id}/rename", response=COMMAND, summary="Rename a task")
def rename(request: HttpRequest, org: str, task_id: str, body: RenameIn,
           q: Query[FastWaitQuery]) -> Status[AcceptedOut]:
    member_task(request, org, task_id)
    if not body.title.strip():
        raise ApiError(422, "invalid_request", "a task's title cannot be blank")
    return _send(request, org, task_id, "task.command.rename", {"title": body.title}, q.wait)


class ArchiveIn(Schema):
    reason: str = Field("", max_length=100)


@router.post("/orgs/{org}/tasks/{task_id}/archive", response=COMMAND,
             summary="Archive a task (its transcript stays readable)")
def archive(request: HttpRequest, org: str, task_id: str, body: ArchiveIn,
            q: Query[FastWaitQuery]) -> Status[AcceptedOut]:
    return _send(request, org, task_id, "task.command.archive", {"reason": body.reason},
                 q.wait)


@router.post("/orgs/{org}/tasks/{task_id}/unarchive", response=COMMAND,
             summary="Unarchive a task")
def unarchive(request: HttpRequest, org: str, task_id: str,
              q: Query[FastWaitQuery]) -> Status[AcceptedOut]:
    return _send(request, org, task_id, "task.command.unarchive", {}, q.wait)


class OwnerIn(Schema):
    login: str = Field(min_length=1, max_length=100)


@router.post("/orgs/{org}/tasks/{task_id}/owner", response=COMMAND,
             summary="Change a task's owner (a member who has signed in)")
def change_owner(request: HttpRequest, org: str, task_id: str, body: OwnerIn,
                 q: Query[FastWaitQuery]) -> Status[AcceptedOut]:
    member_task(request, org, task_id)
    owner = User.objects.filter(username=body.login).first()
    if owner is None or not Membership.objects.filter(user_id=owner.pk, org=org).exists():
        raise ApiError(422, "invalid_request",
                       f"{body.login} is not a member of {org} who has signed in")
    return _send(request, org, task_id, "task.command.change_owner", {"login": body.login},
                 q.wait)


@router.post("/orgs/{org}/tasks/{task_id}/push", response=COMMAND,
             summary="Commit the working tree and push the branch as the owner (202)")
def push(request: HttpRequest, org: str, task_id: str,
         q: Query[WaitQuery]) -> Status[AcceptedOut]:
    return _send(request, org, task_id, "task.command.push", {}, q.wait)


class PullRequestIn(Schema):
    title: str = Field("", max_length=250)
    body: str = Field("", max_length=60_000)
    draft: bool = False


@router.post("/orgs/{org}/tasks/{task_id}/pr", response=COMMAND,
             summary="Push, then open the pull request as the owner (202)")
def open_pr(request: HttpRequest, org: str, task_id: str, body: PullRequestIn,
            q: Query[WaitQuery]) -> Status[AcceptedOut]:
    return _send(request, org, task_id, "task.command.publish_pr",
                 {"title": body.title, "body": body.body, "draft": body.draft}, q.wait)


def _relative_path(path: str) -> str:
    """A path inside the repository (git is run in the sandbox with it)."""
    if path.startswith("/") or ".." in path.split("/") or "\x00" in path:
        raise ApiError(422, "invalid_request", "the path must be relative to the repository")
    return path


class RevertIn(Schema):
    path: str = Field(min_length=1, max_length=1000)


@router.post("/orgs/{org}/tasks/{task_id}/revert", response=COMMAND,
             summary="Revert one file to the branch's last commit")
def revert(request: HttpRequest, org: str, task_id: str, body: RevertIn,
           q: Query[FastWaitQuery]) -> Status[AcceptedOut]:
    member_task(request, org, task_id)
    return _send(request, org, task_id, "task.command.revert_file",
                 {"path": _relative_path(body.path)}, q.wait)


class GitOut(Schema):
    git: GitStateOut | None
    unavailable: str  # why ``git`` is null (no sandbox yet, paused, gone)


@router.get("/orgs/{org}/tasks/{task_id}/git", response={200: GitOut, **ERRORS},
            summary="The git state of the task's working tree, from its sandbox")
def git(request: HttpRequest, org: str, task_id: str) -> GitOut:
    from tasks.reads import live_git_state
    from tasks.records import row

    acted_on(request, org, task_id, ready=True)
    state, why = live_git_state(row(org, task_id))
    return GitOut(git=_git_out(state), unavailable=why)


class DiffQuery(Schema):
    path: str = Field(min_length=1, max_length=1000)


class DiffOut(Schema):
    path: str
    diff: str


@router.get("/orgs/{org}/tasks/{task_id}/diff", response={200: DiffOut, **ERRORS},
            summary="One file's diff against the branch's last commit")
def diff(request: HttpRequest, org: str, task_id: str, q: Query[DiffQuery]) -> DiffOut:
    member_task(request, org, task_id)
    path = _relative_path(q.path)
    handle = acted_on(request, org, task_id, ready=True)
    try:
        text = handle.read("task.read.file_diff", path)
    except (TaskError, AgentTransportError) as exc:
        raise ApiError(409, "sandbox_unavailable", str(exc)) from exc
    return DiffOut(path=q.path, diff=text)
