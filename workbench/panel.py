"""The task view's right panel: Overview, Changes, Files, and the Push /
Open PR bar, as htmx fragments under ``/o/<org>/t/<task>/panel/``.

Every view checks membership first (``orgs.access.require_member``: 404)
and finds the task only in that organization's task index, so no URL
reaches another organization's task. Reads go through the task's and the
sandbox's read actions (git state is computed in the sandbox); every button
sends a command of the task or sandbox actor and renders the panel again
with the outcome, or with a sentence saying what failed (never a 500).
Opening the panel is a person acting on the task: it materializes a
virtual task (``open_task``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from foundry.actors import ActorError
from orgs.access import require_member
from orgs.models import TaskIndexEntry
from orgs.reads import TaskNotFound
from sandboxes.actor import sandbox
from sandboxes.agent_errors import AgentTransportError
from sandboxes.models import Sandbox, SandboxStatus
from tasks.actor import task
from tasks.errors import TaskError
from tasks.materialize import open_task
from tasks.models import Task
from tasks.workspace import repository_of, sandbox_git
from users.models import Membership
from workbench.diff_lines import DiffLine, parse_diff
from workbench.file_tree import TreeNode, build_tree

TABS = ("overview", "changes", "files")
SANDBOX_ACTIONS = ("start", "pause", "resume", "destroy")
# Push and PR wait for the sandbox, git and GitHub: long, but bounded so a
# stuck command answers the person with a sentence instead of hanging.
GIT_COMMAND_TIMEOUT = 180.0
SHORT_COMMAND_TIMEOUT = 60.0


@dataclass(frozen=True)
class Notice:
    ok: bool
    text: str


def _task(request: HttpRequest, org: str, task_id: str) -> Task:
    """The task of ``org`` (materialized now), or 404 for a non-member or a
    task not in that organization's index."""
    require_member(request.user, org)
    if not TaskIndexEntry.objects.filter(org=org, task_id=task_id).exists():
        raise Http404("no such task")
    try:
        open_task(org, task_id, wait=True)
    except TaskNotFound:
        raise Http404("no such task") from None
    row = Task.objects.filter(org=org, task_id=task_id).select_related("owner").first()
    if row is None:
        raise Http404("no such task")
    return row


def _login(request: HttpRequest) -> str:
    return str(request.user.get_username())


def _members(org: str) -> list[str]:
    return list(Membership.objects.filter(org=org).order_by("user__username")
                .values_list("user__username", flat=True))


def _render(request: HttpRequest, row: Task, tab: str, *, notice: Notice | None = None,
            extra: dict[str, Any] | None = None) -> HttpResponse:
    detail = task.get(org=row.org, task=row.task_id).read(
        "task.read.detail", with_git=(tab == "changes"))
    context: dict[str, Any] = {
        "org": row.org, "task_id": row.task_id, "tab": tab, "tabs": TABS, "detail": detail,
        "summary": detail.summary, "sandbox": detail.sandbox, "notice": notice,
        "members": _members(row.org) if tab == "overview" else [],
        "sandbox_ready": detail.sandbox is not None
        and detail.sandbox.status == SandboxStatus.READY,
    }
    if tab == "files":
        context.update(_files(row))
    context.update(extra or {})
    return render(request, "workbench/panel/panel.html", context)


def _files(row: Task) -> dict[str, Any]:
    """The repository tree, listed in the sandbox (tracked and untracked,
    ignored files left out)."""
    try:
        with sandbox_git(row.org, row.task_id) as (proc, box):
            result = proc.run("git", ["ls-files", "--cached", "--others", "--exclude-standard"],
                              cwd=box.repo_path, timeout=30)
    except (TaskError, AgentTransportError) as exc:
        return {"tree": None, "tree_unavailable": str(exc)}
    if result.exit_code != 0:
        return {"tree": None, "tree_unavailable": f"git ls-files failed: {result.stderr[:300]}"}
    paths = sorted({p for p in result.stdout.splitlines() if p})
    tree: TreeNode = build_tree(paths)
    return {"tree": tree, "tree_unavailable": "", "file_count": len(paths)}


@login_required
@require_GET
def panel(request: HttpRequest, org: str, task_id: str, tab: str) -> HttpResponse:
    if tab not in TABS:
        raise Http404("no such tab")
    return _render(request, _task(request, org, task_id), tab)


@login_required
@require_GET
def file_diff(request: HttpRequest, org: str, task_id: str) -> HttpResponse:
    row = _task(request, org, task_id)
    path = request.GET.get("path", "")
    lines: list[DiffLine] = []
    error = ""
    if not path:
        error = "Which file? The request named none."
    else:
        try:
            text = task.get(org=org, task=task_id).read("task.read.file_diff", path)
            lines = parse_diff(text)
        except (TaskError, AgentTransportError) as exc:
            error = f"The diff of {path} could not be read: {exc}"
    return render(request, "workbench/panel/diff.html",
                  {"path": path, "lines": lines, "error": error, "org": org,
                   "task_id": row.task_id})


def _send(row: Task, name: str, payload: dict[str, Any], *, timeout: float) -> Any:
    return task.get(org=row.org, task=row.task_id).send(name, payload, wait=True,
                                                         timeout=timeout)


def _failed(what: str, exc: Exception) -> Notice:
    return Notice(False, f"{what} failed: {exc}")


@login_required
@require_POST
def revert(request: HttpRequest, org: str, task_id: str) -> HttpResponse:
    row = _task(request, org, task_id)
    path = request.POST.get("path", "")
    try:
        _send(row, "task.command.revert_file",
              {"path": path, "acting_login": _login(request)}, timeout=SHORT_COMMAND_TIMEOUT)
        notice = Notice(True, f"Reverted {path}.")
    except (ActorError, TimeoutError) as exc:
        notice = _failed(f"Reverting {path}", exc)
    return _render(request, row, "changes", notice=notice)


@login_required
@require_POST
def change_owner(request: HttpRequest, org: str, task_id: str) -> HttpResponse:
    row = _task(request, org, task_id)
    login = request.POST.get("login", "")
    if login not in _members(org):
        notice = Notice(False, f"{login or 'Nobody'} is not a member of {org}.")
    else:
        try:
            _send(row, "task.command.change_owner",
                  {"login": login, "acting_login": _login(request)},
                  timeout=SHORT_COMMAND_TIMEOUT)
            notice = Notice(True, f"{login} owns this task now.")
        except (ActorError, TimeoutError) as exc:
            notice = _failed("Changing the owner", exc)
    return _render(request, Task.objects.get(pk=row.pk), "overview", notice=notice)


@login_required
@require_POST
def sandbox_action(request: HttpRequest, org: str, task_id: str, action: str) -> HttpResponse:
    row = _task(request, org, task_id)
    if action not in SANDBOX_ACTIONS:
        raise Http404("no such action")
    exists = Sandbox.objects.filter(org=org, sandbox_id=task_id).exists()
    try:
        if action == "start" or (action == "resume" and not exists):
            handle = sandbox.get_or_create(org=org, sandbox=task_id,
                                           create_with_input={"task": task_id})
            # Fire and forget: provisioning takes seconds; the panel shows
            # "provisioning" and the sandbox's events say when it is ready.
            handle.send("sandbox.command.ensure", {"repository": repository_of(row)})
            notice = Notice(True, "Starting the sandbox…")
        elif not exists:
            notice = Notice(False, "This task has no sandbox yet.")
        else:
            sandbox.get(org=org, sandbox=task_id).send(
                f"sandbox.command.{action}", wait=True, timeout=GIT_COMMAND_TIMEOUT)
            notice = Notice(True, {"pause": "Sandbox paused.", "resume": "Sandbox running.",
                                   "destroy": "Sandbox destroyed."}[action])
    except (ActorError, TimeoutError) as exc:
        notice = _failed(f"{action.title()} sandbox", exc)
    return _render(request, row, "overview", notice=notice)


@login_required
@require_POST
def push(request: HttpRequest, org: str, task_id: str) -> HttpResponse:
    row = _task(request, org, task_id)
    try:
        out = _send(row, "task.command.push", {"acting_login": _login(request)},
                    timeout=GIT_COMMAND_TIMEOUT)
        what = "Committed and pushed" if out.get("committed") else "Pushed"
        notice = Notice(True, f"{what} {row.branch} ({str(out.get('head_sha', ''))[:8]}).")
    except (ActorError, TimeoutError) as exc:
        notice = _failed("Push", exc)
    return _render(request, Task.objects.get(pk=row.pk), _tab_of(request), notice=notice)


@login_required
@require_POST
def open_pr(request: HttpRequest, org: str, task_id: str) -> HttpResponse:
    row = _task(request, org, task_id)
    try:
        out = _send(row, "task.command.publish_pr",
                    {"acting_login": _login(request),
                     "draft": request.POST.get("draft") == "1"},
                    timeout=GIT_COMMAND_TIMEOUT)
        notice = Notice(True, f"Pull request #{out.get('pr_number')} is open.")
    except (ActorError, TimeoutError) as exc:
        notice = _failed("Opening the pull request", exc)
    return _render(request, Task.objects.get(pk=row.pk), _tab_of(request), notice=notice)


def _tab_of(request: HttpRequest) -> str:
    tab = request.POST.get("tab", "overview")
    return tab if tab in TABS else "overview"


@login_required
@require_GET
def page(request: HttpRequest, org: str, task_id: str) -> HttpResponse:
    """The panel alone on a page (a pop-out beside an editor): the same
    fragments, loaded the way the task view loads them."""
    row = _task(request, org, task_id)
    return render(request, "workbench/panel/page.html",
                  {"org": org, "task_id": task_id, "title": row.title})
