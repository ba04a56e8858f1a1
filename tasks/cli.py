"""What the ``task`` management command does, apart from parsing: resolve
the organization, repository, task and person, and build the summary line.
Errors are ``CommandError``s that name what is wrong and what exists."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from github_data.models import GitHubRepository
from orgs.models import Organization, TaskIndexEntry
from orgs.reads import TaskNotFound
from tasks import cli_sessions
from tasks.materialize import open_task, resolve_task
from tasks.models import Task
from users.models import Membership


def require_org(org: str) -> None:
    known = (Organization.objects.filter(org_id=org).exists()
             or GitHubRepository.objects.filter(org=org).exists())
    if not known:
        orgs = sorted(set(Organization.objects.values_list("org_id", flat=True)))
        raise CommandError(
            f"unknown organization {org!r} (known: {', '.join(orgs) or 'none'};"
            " run `python manage.py full_sync ORG` first)"
        )


def require_repo(org: str, name: str) -> str:
    """The repository's full name, from its name (or full name)."""
    repo = GitHubRepository.objects.filter(org=org, name=name.split("/")[-1]).first()
    if repo is None:
        names = list(GitHubRepository.objects.filter(org=org).order_by("name")
                     .values_list("name", flat=True)[:10])
        raise CommandError(
            f"organization {org!r} has no repository {name!r} (some it has: {', '.join(names)})"
        )
    return repo.full_name


def person(org: str, login: str | None) -> Any:
    """The person ``--as`` names (signed in, a member of ``org``); None
    without ``--as`` (the GitHub App acts)."""
    if not login:
        return None
    user = get_user_model().objects.filter(username=login).first()
    if user is None:
        raise CommandError(f"{login!r} has never signed in to Foundry; sign in first")
    if not Membership.objects.filter(user_id=user.pk, org=org).exists():
        raise CommandError(f"{login!r} is not a member of organization {org!r}")
    return user


def task_ref(reference: str) -> tuple[str, str]:
    try:
        return resolve_task(reference)
    except (TaskNotFound, LookupError) as exc:
        raise CommandError(f"unknown task: {exc}") from exc


def materialized(org: str, task_id: str, *, wait: bool = False) -> Any:
    """The task's actor (created on this first action, if need be)."""
    try:
        return open_task(org, task_id, wait=wait)
    except TaskNotFound as exc:
        raise CommandError(f"unknown task: {exc}") from exc


def summary_line(org: str, task_id: str, *, session_id: str = "",
                 files_changed: int | None = None) -> str:
    """The last line of ``--json`` output."""
    record = Task.objects.filter(org=org, task_id=task_id).first()
    latest, events = cli_sessions.latest_session(org, task_id)
    entry = TaskIndexEntry.objects.filter(org=org, task_id=task_id).first()
    return json.dumps({
        "task_id": task_id,
        "branch": record.branch if record else (entry.branch if entry else ""),
        "status": ("archived" if record.archived else record.state) if record else "virtual",
        "session_id": session_id or latest or None,
        "events": events,
        "files_changed": files_changed if files_changed is not None else (
            record.files_changed if record else 0),
        "pr_number": record.pr_number if record else (entry.pr_number if entry else None),
    })
