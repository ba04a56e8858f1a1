"""The ``task`` command line's way to the sessions (``tasks/sessions.py``):
create a session, send, stop, follow a turn and answer its permission
requests, with the sessions' errors as command errors.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

from django.apps import apps
from django.core.management.base import CommandError

NOT_WIRED = "sessions are not wired yet"
SESSION_MODEL: str = "tasks.Session"


def sessions() -> ModuleType:
    try:
        module: ModuleType = importlib.import_module("tasks.sessions")
    except ImportError as exc:
        raise CommandError(NOT_WIRED) from exc
    return module


def latest_session(org: str, task_id: str) -> tuple[str, int]:
    """(session id, events stored) of the task's newest session; ("", 0)
    when it has none (or sessions are not wired yet)."""
    try:
        # By name: the sessions' models are written beside this work.
        session_model: Any = apps.get_model(SESSION_MODEL)
    except LookupError:
        return "", 0
    session = (session_model.objects.filter(org=org, task_key=task_id)
               .order_by("-created_at", "-pk").first())
    if session is None:
        return "", 0
    return str(session.session_id), int(session.events.count())


def create_session(org: str, task_id: str, *, agent: str | None, model: str | None,
                   user_id: int | None) -> str:
    return str(sessions().create_session(org, task_id, agent=agent, model=model,
                                         as_user=user_id))


def send(org: str, task_id: str, session_id: str, text: str, user_id: int | None) -> Any:
    return sessions().send_message(org, task_id, session_id, text, as_user=user_id)


def stop(org: str, task_id: str, session_id: str) -> Any:
    return sessions().stop(org, task_id, session_id)


def follow(org: str, task_id: str, session_id: str, *, user_id: int | None, approve: bool,
           write: Callable[[str], None], ask: Callable[[str], str]) -> None:
    """Print the transcript as it is stored until the turn ends; each
    permission request is allowed (``approve``) or put to the person."""
    module = sessions()
    answered: set[str] = set()
    for item in module.follow(org, task_id, session_id):
        text = str(item.data.get("text") or item.data.get("title") or "").strip()
        write(f"[{item.kind}] {text}" if text else f"[{item.kind}]")
        for request in module.pending_permissions(org, task_id, session_id):
            request_id = str(request["request_id"])
            if request_id in answered:
                continue
            option = _choose(request.get("option_ids") or [], approve, ask)
            module.answer_permission(org, task_id, session_id, request["request_id"], option,
                                     as_user=user_id)
            answered.add(request_id)


def _choose(options: list[str], approve: bool, ask: Callable[[str], str]) -> str | None:
    allow = next((o for o in options if o.startswith("allow")), options[0] if options else None)
    deny = next((o for o in options if o.startswith("deny") or o.startswith("reject")), None)
    if approve:
        return allow
    answer = ask(f"The agent asks permission ({', '.join(options)}). Allow? [y/N] ")
    return allow if answer.strip().lower() in ("y", "yes") else deny
