"""What the task view shows: the task's record, its sessions, the most
urgent status, the open session's transcript (its latest page) and the
agents its sandbox offers.

Opening the view is a person acting on the task: ``open_task``
materializes a virtual task (its actor appears only now), and a task with
no session gets one (created by its actor, without waiting for the
sandbox; the page follows it live).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from foundry.actors.handles import ActorHandle
from sandboxes.actor import sandbox
from sandboxes.agent_errors import AgentTransportError
from sandboxes.models import Sandbox, SandboxStatus
from sandboxes.reads import AgentOption, SandboxNotReady
from tasks.materialize import open_task
from tasks.models import Task
from tasks.session_models import Session, SessionEvent, SessionStatus
from tasks.transcript import PAGE_SIZE, TranscriptItem, transcript_page

log = logging.getLogger(__name__)

# The session's row is written by the first step of its creation; the page
# waits for it (not for the sandbox) so it can subscribe to the session.
SESSION_ROW_WAIT_SECONDS = 10.0


@dataclass
class TaskPage:
    task: Task
    sessions: list[Session]
    session: Session | None
    status: str
    status_label: str
    items: list[TranscriptItem] = field(default_factory=list)
    first_seq: int = 0  # the page's first event (older history is before it)
    last_seq: int = 0
    working_since: datetime | None = None
    agents: list[AgentOption] = field(default_factory=list)


def open_task_page(org: str, task_id: str, *, user_id: int,
                   session_id: str = "") -> TaskPage:
    """``TaskNotFound`` when the task is not in the organization's index."""
    handle = open_task(org, task_id, wait=True)
    task = Task.objects.get(org=org, task_id=task_id)
    sessions = _open_sessions(task)
    if not sessions:
        session_id = _start_first_session(handle, task, user_id)
    if session_id and session_id not in {s.session_id for s in sessions}:
        _wait_for_session_row(task, session_id)  # just asked for (a new tab)
        sessions = _open_sessions(task)
    session = next((s for s in sessions if s.session_id == session_id), None) or (
        sessions[0] if sessions else None
    )
    status, label = urgent_status(task, sessions)
    page = TaskPage(task=task, sessions=sessions, session=session, status=status,
                    status_label=label)
    if session is not None:
        after = max(0, session.last_seq - PAGE_SIZE)
        page.items = transcript_items(session, after_seq=after)
        page.first_seq, page.last_seq = after + 1, session.last_seq
        page.working_since = working_since(session)
    page.agents = sandbox_agents(org, task_id)
    return page


def _open_sessions(task: Task) -> list[Session]:
    return list(task.sessions.exclude(status=SessionStatus.CLOSED).order_by("created_at", "pk"))


def _start_first_session(handle: ActorHandle, task: Task, user_id: int) -> str:
    session_id = uuid.uuid4().hex[:12]
    # Fire and forget: provisioning a sandbox takes seconds to minutes.
    handle.send("task.command.create_session", {
        "session_id": session_id, "agent": None, "model": None, "as_user": user_id,
        "title": "Session 1",
    })
    return session_id


def _wait_for_session_row(task: Task, session_id: str) -> None:
    if Session.objects.filter(task=task, session_id=session_id).exists():
        return
    if not _create_pending(task, session_id):
        return
    deadline = time.monotonic() + SESSION_ROW_WAIT_SECONDS
    while not Session.objects.filter(task=task, session_id=session_id).exists():
        if time.monotonic() > deadline:
            log.warning("session %s of %s/%s not written in %ss", session_id, task.org,
                        task.task_id, SESSION_ROW_WAIT_SECONDS)
            return
        time.sleep(0.05)


def _create_pending(task: Task, session_id: str) -> bool:
    """Whether a create_session command for ``session_id`` was sent (a
    made-up ``?session=`` is not waited for)."""
    from foundry.actors.models import Command

    return Command.objects.filter(
        name="task.command.create_session", payload__session_id=session_id,
    ).exists()


STATUS_LABELS = {
    "session_error": "Session error", "error": "Error", "no_sandbox": "No sandbox",
    "provisioning": "Provisioning", "creating_session": "Creating session",
    "running": "Running", "idle": "Idle", "archived": "Archived",
}


def urgent_status(task: Task, sessions: list[Session]) -> tuple[str, str]:
    """The most urgent: session error > task error > no sandbox >
    provisioning > creating session > running > idle."""
    statuses = {s.status for s in sessions}
    box = Sandbox.objects.filter(org=task.org, sandbox_id=task.task_id).first()
    if SessionStatus.ERROR in statuses:
        status = "session_error"
    elif task.state == "error":
        status = "error"
    elif task.archived:
        status = "archived"
    elif SessionStatus.PENDING_PROVISION in statuses or (
        box is not None and box.status == SandboxStatus.PROVISIONING
    ):
        status = "provisioning"
    elif box is None or box.status != SandboxStatus.READY:
        status = "no_sandbox"
    elif SessionStatus.PENDING_SESSION_CREATE in statuses:
        status = "creating_session"
    elif SessionStatus.RUNNING in statuses:
        status = "running"
    else:
        status = "idle"
    return status, STATUS_LABELS[status]


def transcript_items(session: Session, *, after_seq: int,
                     limit: int = PAGE_SIZE) -> list[TranscriptItem]:
    """One page of items, each turn's end with how long the reply took."""
    items = transcript_page(session, after_seq=after_seq, limit=limit).items
    for item in items:
        if item.kind != "turn_finished":
            continue
        # The turn's message may be on an earlier page: read its time.
        ended = SessionEvent.objects.filter(session=session, seq=item.first_seq).values_list(
            "at", flat=True).first()
        asked = (SessionEvent.objects.filter(session=session, kind="user_message",
                                             seq__lt=item.first_seq)
                 .order_by("-seq").values_list("at", flat=True).first())
        if ended is not None and asked is not None:
            item.data["took_seconds"] = round((ended - asked).total_seconds(), 1)
    return items


def working_since(session: Session) -> datetime | None:
    """When the running turn's message was recorded (None between turns)."""
    if session.status != SessionStatus.RUNNING:
        return None
    return (SessionEvent.objects.filter(session=session, kind="user_message")
            .order_by("-seq").values_list("at", flat=True).first())


def sandbox_agents(org: str, task_id: str) -> list[AgentOption]:
    """The sandbox's own agent list; empty (and logged) while it is not
    ready or its agent server does not answer: the composer then offers
    the sessions' agents."""
    if not Sandbox.objects.filter(org=org, sandbox_id=task_id,
                                  status=SandboxStatus.READY).exists():
        return []
    try:
        return list(sandbox.get(org=org, sandbox=task_id).read("sandbox.read.agents"))
    except (SandboxNotReady, AgentTransportError) as exc:
        log.info("agents of sandbox %s/%s not listed: %s", org, task_id, exc)
        return []


def describe_items(items: list[TranscriptItem]) -> list[dict[str, Any]]:
    return [i.to_json() for i in items]
