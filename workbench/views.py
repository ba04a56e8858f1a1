"""The workbench's pages and the actions its forms post.

Every view checks membership first (``orgs.access``: another
organization's task is a 404, like a missing one). Pages read plain
projections (``workbench.sidebar``, ``workbench.task_page``); actions
validate, then send a command through the tasks app (``tasks.sessions``,
``tasks.materialize``) and answer 204, or 400 with a readable message the
page shows (a failed command is a message, never a 500).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from foundry.actors import ActorError
from github_data.models import GitHubRepository
from orgs import views as org_views
from orgs.access import require_member
from orgs.reads import TaskNotFound, app_snapshot, organization_snapshot
from orgs.task_list import BadCursor, TaskFilter
from tasks import sessions
from tasks.materialize import create_task, open_task
from tasks.models import Task
from tasks.session_models import SessionStatus
from workbench import sidebar
from workbench.task_page import open_task_page, transcript_items

log = logging.getLogger(__name__)

View = Callable[..., HttpResponse]


def _user_id(request: HttpRequest) -> int:
    return int(request.user.pk)  # type: ignore[arg-type]  # signed in: set


def member_view(view: View) -> View:
    """Signed in, and a member of the URL's organization (else 404)."""
    @login_required
    @wraps(view)
    def checked(request: HttpRequest, org_id: str, *args: Any, **kwargs: Any) -> HttpResponse:
        require_member(request.user, org_id)
        return view(request, org_id, *args, **kwargs)
    return checked


def action_failed(message: str, status: int = 400) -> HttpResponse:
    """A readable answer to a failed action (the page shows the text)."""
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _command_message(exc: Exception) -> str:
    original = getattr(exc, "original_message", None)
    return str(original or exc)


def _run_action(action: Callable[[], Any]) -> HttpResponse | None:
    """None when the action ran; a readable 400 when its command failed."""
    try:
        action()
    except sessions.SessionNotFound as exc:
        raise Http404(str(exc)) from exc
    except ActorError as exc:
        log.info("workbench action failed: %s", exc)
        return action_failed(_command_message(exc))
    return None


# -- the workbench and its sidebar --------------------------------------------------------


def _query(request: HttpRequest) -> sidebar.SidebarQuery:
    return sidebar.SidebarQuery(
        search=request.GET.get("q", "")[:200], mine=request.GET.get("mine") == "1",
        open_prs=request.GET.get("prs") == "1", archived=request.GET.get("archived") == "1",
    )


def _sidebar_context(request: HttpRequest, org_id: str) -> dict[str, Any]:
    query = _query(request)
    login = request.user.get_username()
    context: dict[str, Any] = {"org_id": org_id, "query": query}
    if query.active:
        rows, cursor = sidebar.rows_page(org_id, query.task_filter(login), None)
        context.update(results=rows, cursor=cursor, next_query=_next_query(request))
    else:
        sections = []
        for index, section in enumerate(sidebar.repo_sections(org_id)):
            rows: list[Any] | None = None
            cursor = None
            if index < sidebar.REPOS_RENDERED_WITH_ROWS and section.open_tasks:
                rows, cursor = sidebar.rows_page(
                    org_id, TaskFilter(repo_id=section.repo_id), None
                )
            sections.append({"repo": section, "rows": rows, "cursor": cursor})
        context["sections"] = sections
    return context


@member_view
@require_GET
def workbench(request: HttpRequest, org_id: str) -> HttpResponse:
    """The workbench of an installed organization; the onboarding page of
    one that is not."""
    role = org_views._role(_user_id(request), org_id)
    org = organization_snapshot(org_id, role=role)
    if org.card.installation_status != "installed":
        return org_views.organization(request, org_id)
    org_views._remember_last_org(_user_id(request), org_id)
    return render(request, "workbench/workbench.html", {
        "app": app_snapshot(request.user), "org": org, **_sidebar_context(request, org_id),
    })


@member_view
@require_GET
def sidebar_rows(request: HttpRequest, org_id: str) -> HttpResponse:
    """A page of rows: ``?repo=<id>`` (a repository's), or the search and
    filters' results; ``cursor`` for the next page. ``?ids=a,b`` renders
    given rows (live updates)."""
    if "ids" in request.GET:
        rows = sidebar.rows_by_id(org_id, request.GET["ids"].split(","))
        return render(request, "workbench/task_rows.html", {"org_id": org_id, "rows": rows})
    if "repo" not in request.GET and "cursor" not in request.GET:
        return render(request, "workbench/sidebar_results.html",
                      _sidebar_context(request, org_id))
    repo = request.GET.get("repo")
    try:
        repo_id = int(repo) if repo else None
        flt = _query(request).task_filter(request.user.get_username(), repo_id)
        rows, cursor = sidebar.rows_page(org_id, flt, request.GET.get("cursor") or None)
    except (BadCursor, ValueError) as exc:
        return action_failed(f"That list cannot be paged from here: {exc}")
    return render(request, "workbench/task_rows.html", {
        "org_id": org_id, "rows": rows, "cursor": cursor, "next_query": _next_query(request),
    })


def _next_query(request: HttpRequest) -> str:
    """The list's query string without its cursor (the next page adds one)."""
    query = request.GET.copy()
    query.pop("cursor", None)
    return query.urlencode()


# -- new task --------------------------------------------------------------------------------


@member_view
def new_task(request: HttpRequest, org_id: str) -> HttpResponse:
    """GET: the form (repository picker, agent, prompt). POST: the task is
    created through the tasks app, then the page opens it."""
    repos = list(GitHubRepository.objects.filter(org=org_id).order_by("full_name")
                 .values_list("full_name", flat=True))
    if request.method == "GET":
        return render(request, "workbench/new_task.html", {"org_id": org_id, "repos": repos})
    if request.method != "POST":
        return action_failed("Use the New task form.", status=405)
    repo = request.POST.get("repo", "").strip()
    prompt = request.POST.get("prompt", "").strip()
    if repo not in repos:
        return action_failed("Pick a repository of this organization.")
    if not prompt:
        return action_failed("Write what the agent should do.")
    try:
        created = create_task(org_id, repo, prompt, owner_login=request.user.get_username())
    except ActorError as exc:
        return action_failed(_command_message(exc))
    task_id = created["task_id"]
    start_session(org_id, task_id, user_id=_user_id(request), title="Session 1",
                  agent=request.POST.get("agent") or None, prompt=prompt)
    response = HttpResponse(status=204)
    response["HX-Redirect"] = reverse("workbench-task", args=[org_id, task_id])
    return response


def start_session(org_id: str, task_id: str, *, user_id: int, title: str,
                  agent: str | None = None, model: str | None = None,
                  prompt: str = "") -> str:
    """A new session, and its first message, queued on the task's mailbox
    without waiting: the task runs its commands in order, so the message
    follows the session's creation (sandbox included)."""
    handle = open_task(org_id, task_id)
    session_id = uuid.uuid4().hex[:12]
    handle.send("task.command.create_session", {
        "session_id": session_id, "agent": agent, "model": model, "as_user": user_id,
        "title": title,
    })
    if prompt:
        handle.send("task.command.send_message", {
            "session_id": session_id, "text": prompt, "as_user": user_id,
            "message_id": uuid.uuid4().hex[:12],
        })
    return session_id


# -- the task view ---------------------------------------------------------------------------


@member_view
@require_GET
def task_view(request: HttpRequest, org_id: str, task_id: str) -> HttpResponse:
    try:
        page = open_task_page(org_id, task_id, user_id=_user_id(request),
                              session_id=request.GET.get("session", ""))
    except TaskNotFound as exc:
        raise Http404("no such task") from exc
    context = {
        "app": app_snapshot(request.user), "org": organization_snapshot(org_id),
        "page": page, "org_id": org_id, "current_task": task_id,
        **_sidebar_context(request, org_id),
    }
    if request.headers.get("X-Requested-With") == "live":
        # The page's live refresh of its header and tabs: no sidebar needed.
        return render(request, "workbench/task_live.html", context)
    return render(request, "workbench/task.html", context)


@member_view
@require_GET
def transcript(request: HttpRequest, org_id: str, task_id: str, session_id: str) -> HttpResponse:
    """Rendered items: ``?after=N`` (the next page, for live updates) or
    ``?before=N`` (the page of history before event N)."""
    try:
        session = sessions.get_session(org_id, task_id, session_id)
        before = int(request.GET["before"]) if "before" in request.GET else None
        after = int(request.GET.get("after", "0"))
    except sessions.SessionNotFound as exc:
        raise Http404(str(exc)) from exc
    except ValueError:
        return action_failed("after and before are sequence numbers")
    if before is not None:
        start = max(0, before - 1 - sessions.PAGE_SIZE)
        items = transcript_items(session, after_seq=start, limit=max(0, before - 1 - start))
        first, last = start + 1, before - 1
    else:
        items = transcript_items(session, after_seq=after)
        first = after + 1
        last = max([i.last_seq for i in items], default=after)
    return render(request, "workbench/transcript_items.html", {
        "items": items, "first_seq": first, "last_seq": last, "session": session,
        "org_id": org_id, "task_id": task_id,
    })


@member_view
@require_POST
def send_message(request: HttpRequest, org_id: str, task_id: str, session_id: str) -> HttpResponse:
    text = request.POST.get("text", "").strip()
    if not text:
        return action_failed("The message is empty.")
    return _run_action(lambda: sessions.send_message(
        org_id, task_id, session_id, text, as_user=_user_id(request)
    )) or HttpResponse(status=204)


@member_view
@require_POST
def stop(request: HttpRequest, org_id: str, task_id: str, session_id: str) -> HttpResponse:
    return _run_action(lambda: sessions.stop(org_id, task_id, session_id)) or HttpResponse(
        status=204)


@member_view
@require_POST
def answer_permission(request: HttpRequest, org_id: str, task_id: str,
                      session_id: str) -> HttpResponse:
    request_id: str | int = request.POST.get("request_id", "")
    if isinstance(request_id, str) and request_id.lstrip("-").isdigit():
        request_id = int(request_id)  # the agent's JSON-RPC ids are numbers
    option = request.POST.get("option_id") or None
    return _run_action(lambda: sessions.answer_permission(
        org_id, task_id, session_id, request_id, option, as_user=_user_id(request)
    )) or HttpResponse(status=204)


@member_view
@require_POST
def new_session(request: HttpRequest, org_id: str, task_id: str) -> HttpResponse:
    """A new session tab (the agent and model asked for); the page opens it."""
    try:
        count = Task.objects.get(org=org_id, task_id=task_id).sessions.count()
        session_id = start_session(
            org_id, task_id, user_id=_user_id(request), title=f"Session {count + 1}",
            agent=request.POST.get("agent") or None, model=request.POST.get("model") or None,
            prompt=request.POST.get("prompt", "").strip(),
        )
    except (TaskNotFound, Task.DoesNotExist) as exc:
        raise Http404("no such task") from exc
    response = HttpResponse(status=204)
    response["HX-Redirect"] = (
        reverse("workbench-task", args=[org_id, task_id]) + f"?session={session_id}"
    )
    return response


@member_view
@require_POST
def rename_session(request: HttpRequest, org_id: str, task_id: str,
                   session_id: str) -> HttpResponse:
    title = request.POST.get("title", "").strip()
    if not title:
        return action_failed("A session needs a name.")
    return _run_action(lambda: sessions.rename_session(org_id, task_id, session_id, title[:200])
                       ) or HttpResponse(status=204)


@member_view
@require_POST
def close_session(request: HttpRequest, org_id: str, task_id: str,
                  session_id: str) -> HttpResponse:
    open_sessions = Task.objects.get(org=org_id, task_id=task_id).sessions.exclude(
        status=SessionStatus.CLOSED)
    if open_sessions.count() <= 1:
        return action_failed("The last session of a task stays open.")
    failed = _run_action(lambda: sessions.close_session(org_id, task_id, session_id))
    if failed:
        return failed
    response = HttpResponse(status=204)
    response["HX-Redirect"] = reverse("workbench-task", args=[org_id, task_id])
    return response


@member_view
@require_POST
def rename_task(request: HttpRequest, org_id: str, task_id: str) -> HttpResponse:
    title = request.POST.get("title", "").strip()
    if not title:
        return action_failed("A task needs a title.")
    try:
        handle = open_task(org_id, task_id)
    except TaskNotFound as exc:
        raise Http404("no such task") from exc
    return _run_action(lambda: handle.send("task.command.rename", {
        "title": title[:500], "acting_login": request.user.get_username(),
    }, wait=True, timeout=sessions.COMMAND_TIMEOUT)) or HttpResponse(status=204)
