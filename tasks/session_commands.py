"""Session commands of the task actor: create a session, send a message,
stop, close, rename, answer a permission request, and the end of a turn.

Non-blocking turns: ``send_message`` records the message, posts the prompt
and returns; the task's command loop and the worker are free while the
agent works (the POST is held by a daemon thread, see ``session_agent``).
The agent's events reach the store through the stream consumer, which
sends ``turn_finished`` when the turn's response arrives; that command sets
the session's and the task's state and prompts the next queued message. A
message sent during a turn is queued on the session and shown as queued.

The writes the steps make are in ``session_records``, the payloads in
``session_schemas``, the transport calls in ``session_agent``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from foundry.actors.context import CommandContext
from sandboxes.actor import sandbox
from sandboxes.agent_errors import AcpServerGone
from sandboxes.demo_agent.launcher import DEMO_AGENT_ID
from tasks import event_store, session_agent
from tasks.actor import task
from tasks.models import Task
from tasks.session_models import Session, SessionStatus
from tasks.session_records import (
    SessionError,
    describe,
    finish_turn,
    publish_changed,
    record_message,
    record_opened,
    session_row,
    set_status,
)
from tasks.session_schemas import (
    AnswerPermissionIn,
    CreateSessionIn,
    RenameSessionIn,
    SendMessageIn,
    SessionIn,
    TurnFinishedIn,
)
from users.feed import bump_task, notify_owner
from users.feed_models import NotificationKind

# Provisioning clones and starts an agent server; E2B takes longer.
SANDBOX_WAIT_SECONDS = 600.0


def _key(ctx: CommandContext) -> tuple[str, str]:
    fields = ctx.key_fields
    return fields["org"], fields["task"]


def _note_turn(org: str, task_key: str, running: bool) -> None:
    # Beat keeps a sandbox with a running turn alive (fire and forget).
    sandbox.get(org=org, sandbox=task_key).send(
        "sandbox.command.note_activity", {"turn_running": running}
    )


# -- create ------------------------------------------------------------------------------


def _begin_session(org: str, task_key: str, payload: CreateSessionIn) -> dict[str, Any]:
    record = Task.objects.filter(org=org, task_id=task_key).first()
    if record is None:
        raise SessionError(f"task {org}/{task_key} has no record")
    session_id = payload.session_id or uuid.uuid4().hex[:12]
    session, _ = Session.objects.get_or_create(
        org=org, session_id=session_id,
        defaults={
            "task": record, "task_key": task_key, "created_by_id": payload.as_user,
            "title": payload.title or "Session", "model": payload.model or "",
        },
    )
    publish_changed(session)
    return {"session_id": session.session_id,
            "repository": {"repo": record.repo_full_name, "branch": record.branch}}


def _choose_agent(org: str, task_key: str, asked: str | None) -> str:
    """The agent from the sandbox's own list: the one asked for, else the
    demo agent where installed, else the first installed one."""
    options = sandbox.get(org=org, sandbox=task_key).read("sandbox.read.agents")
    installed: list[str] = [str(a.id) for a in options if a.installed]
    if asked:
        if asked not in {a.id for a in options}:
            raise SessionError(
                f"agent {asked!r} is not offered by sandbox {org}/{task_key} "
                f"(it offers {sorted(a.id for a in options)})"
            )
        return asked
    for preferred in (DEMO_AGENT_ID, *installed):
        if preferred in installed:
            return preferred
    raise SessionError(f"sandbox {org}/{task_key} has no installed agent")


def _open(org: str, task_key: str, session_id: str, agent: str) -> dict[str, Any]:
    session = session_row(org, session_id)
    opened = session_agent.open_acp_session(
        org, task_key, session_id, agent, session.acp_generation + 1
    )
    return record_opened(session.pk, agent, opened)


@task.command("task.command.create_session", payload=CreateSessionIn)
def create_session(ctx: CommandContext, payload: CreateSessionIn) -> dict[str, Any]:
    """A session with an agent of the task's sandbox (ensured first: the
    task's repository and branch come from its record)."""
    org, task_key = _key(ctx)
    begun = ctx.step("begin", _begin_session, org, task_key, payload)
    session_id = begun["session_id"]
    try:
        ctx.step("sandbox", lambda: sandbox.get_or_create(org=org, sandbox=task_key) and None)
        sandbox.get(org=org, sandbox=task_key).send(
            "sandbox.command.ensure", {"repository": begun["repository"]},
            wait=True, timeout=SANDBOX_WAIT_SECONDS,
        )
        ctx.step("creating", set_status, org, session_id,
                 SessionStatus.PENDING_SESSION_CREATE)
        agent = ctx.step("agent", _choose_agent, org, task_key, payload.agent)
        return dict(ctx.step("open", _open, org, task_key, session_id, agent))
    except Exception as exc:
        ctx.step("record failure", set_status, org, session_id, SessionStatus.ERROR,
                 f"the session could not start: {exc}")
        raise


# -- messages and turns ------------------------------------------------------------------


def _post(org: str, task_key: str, session_id: str, turn: dict[str, Any]) -> dict[str, Any]:
    """Post the turn's prompt; a server sandbox-agent forgot (it restarted)
    is opened again first, and the session says so."""
    session = session_row(org, session_id)
    if session.turn_request_id != turn["request_id"]:
        return {"posted": False, "why": "the turn ended before its prompt was posted"}
    if not session_agent.server_is_known(org, task_key, session.acp_server_id, session.agent):
        sandbox.get(org=org, sandbox=task_key).send("sandbox.command.check")
        opened = session_agent.open_acp_session(
            org, task_key, session_id, session.agent, session.acp_generation + 1
        )
        record_opened(session.pk, session.agent, opened)
        event_store.append_foundry_event(session.pk, "session_reopened", {
            "message": "the agent server had restarted: the session was opened again "
                       "and the agent no longer has its earlier context",
        })
        session = session_row(org, session_id)
    try:
        session_agent.post_prompt(org, task_key, session_id, session.acp_server_id,
                                  session.acp_session_id, turn["request_id"], turn["text"])
    except AcpServerGone as exc:
        raise SessionError(f"the agent server of session {session_id} is gone: {exc}") from exc
    return {"posted": True, "request_id": turn["request_id"]}


def _run_turn(ctx: CommandContext, org: str, task_key: str, session_id: str,
              turn: dict[str, Any]) -> dict[str, Any]:
    try:
        posted = ctx.step("post prompt", _post, org, task_key, session_id, turn)
    except Exception as exc:
        ctx.step("turn failed", finish_turn, org, session_id, turn["request_id"], "",
                 f"the prompt could not be posted: {exc}")
        ctx.step("notify owner", _notify_turn_end, org, task_key, session_id,
                 turn["request_id"], f"the prompt could not be posted: {exc}")
        raise
    ctx.step("note turn", _note_turn, org, task_key, True)
    return {**turn, **posted}


@task.command("task.command.send_message", payload=SendMessageIn)
def send_message(ctx: CommandContext, payload: SendMessageIn) -> dict[str, Any]:
    """Record the message and start the turn (or queue the message behind the
    running one); returns at once, the agent works on."""
    org, task_key = _key(ctx)
    turn = ctx.step("record message", record_message, org, payload.session_id, payload)
    if payload.as_user is not None:
        ctx.step("bump task", bump_task, payload.as_user, org, task_key, "message")
    if turn["queued"]:
        return dict(turn)
    return _run_turn(ctx, org, task_key, payload.session_id, turn)


@task.command("task.command.turn_finished", payload=TurnFinishedIn)
def turn_finished(ctx: CommandContext, payload: TurnFinishedIn) -> dict[str, Any]:
    """The stream consumer saw the turn's response: set the session's and the
    task's state, and prompt the next queued message."""
    org, task_key = _key(ctx)
    finished = ctx.step("finish turn", finish_turn, org, payload.session_id, payload.request_id,
                        payload.stop_reason, payload.error)
    if finished["next"] is not None:
        return _run_turn(ctx, org, task_key, payload.session_id, finished["next"])
    if not finished["ignored"]:
        ctx.step("notify owner", _notify_turn_end, org, task_key, payload.session_id,
                 payload.request_id, payload.error)
        ctx.step("note turn", _note_turn, org, task_key, False)
        # The agent may have changed files: recount them for the summary's
        # +/- lines (its own command, after this one: git runs in the sandbox).
        ctx.step("recount changes", _recount_changes, org, task_key)
    return dict(finished)


def _notify_turn_end(org: str, task_key: str, session_id: str, request_id: str,
                     error: str) -> None:
    # Fire and forget: the user actor records it, the task's loop goes on.
    kind = NotificationKind.AGENT_FAILED if error else NotificationKind.AGENT_FINISHED
    notify_owner(org, task_key, kind, f"turn/{session_id}/{request_id}",
                 session_id=session_id,
                 message=error or "the agent finished its turn")


def _recount_changes(org: str, task_key: str) -> None:
    task.get(org=org, task=task_key).send("task.command.refresh_git_state", {})


# -- stop, close, rename, permissions ----------------------------------------------------


def _stop(org: str, task_key: str, session_id: str, *, closing: bool) -> dict[str, Any]:
    with transaction.atomic():
        session = session_row(org, session_id)
        dropped = session.queued_messages
        session.queued_messages = []
        if closing:
            session.closed_at = timezone.now()
            if session.status != SessionStatus.RUNNING:
                session.status = SessionStatus.CLOSED
        session.updated_at = timezone.now()
        session.save(update_fields=["queued_messages", "closed_at", "status", "updated_at"])
        if dropped:
            event_store.append_foundry_event(session.pk, "queue_dropped", {
                "message_ids": [m["id"] for m in dropped],
            })
        publish_changed(session)
    if session.status == SessionStatus.RUNNING and session.acp_server_id:
        # The turn ends with stopReason "cancelled" on the stream.
        session_agent.cancel(org, task_key, session.acp_server_id, session.agent,
                             session.acp_session_id)
    return describe(session)


@task.command("task.command.stop", payload=SessionIn)
def stop(ctx: CommandContext, payload: SessionIn) -> dict[str, Any]:
    """Cancel the running turn and drop the queued messages."""
    org, task_key = _key(ctx)
    return dict(ctx.step("stop", _stop, org, task_key, payload.session_id, closing=False))


@task.command("task.command.close_session", payload=SessionIn)
def close_session(ctx: CommandContext, payload: SessionIn) -> dict[str, Any]:
    """Stop it and close it: its transcript stays readable."""
    org, task_key = _key(ctx)
    return dict(ctx.step("close", _stop, org, task_key, payload.session_id, closing=True))


@task.command("task.command.rename_session", payload=RenameSessionIn)
def rename_session(ctx: CommandContext, payload: RenameSessionIn) -> dict[str, Any]:
    org, _ = _key(ctx)

    def rename() -> dict[str, Any]:
        session = session_row(org, payload.session_id)
        session.title = payload.title.strip()[:200] or session.title
        session.updated_at = timezone.now()
        session.save(update_fields=["title", "updated_at"])
        publish_changed(session)
        return describe(session)

    return dict(ctx.step("rename", rename))


def _answer(org: str, task_key: str, payload: AnswerPermissionIn) -> dict[str, Any]:
    from tasks.transcript import permission_states

    session = session_row(org, payload.session_id)
    states = permission_states(session)
    state = states.get(str(payload.request_id))
    if state is None:
        raise SessionError(
            f"session {payload.session_id} has no permission request {payload.request_id!r}"
        )
    if state["status"] != "pending":
        return {"answered": False, "status": state["status"]}
    if payload.option_id is not None and payload.option_id not in state["option_ids"]:
        raise SessionError(
            f"permission request {payload.request_id!r} offers {state['option_ids']}, "
            f"not {payload.option_id!r}"
        )
    session_agent.answer_permission(org, task_key, session.acp_server_id, session.agent,
                                    state["request_id"], payload.option_id)
    event_store.append_foundry_event(session.pk, "permission_answered", {
        "request_id": payload.request_id, "option_id": payload.option_id,
        "user_id": payload.as_user,
    })
    return {"answered": True, "status": "answered"}


@task.command("task.command.answer_permission", payload=AnswerPermissionIn)
def answer_permission(ctx: CommandContext, payload: AnswerPermissionIn) -> dict[str, Any]:
    """Answer the agent's permission request with one of its options (None:
    cancelled)."""
    org, task_key = _key(ctx)
    return dict(ctx.step("answer", _answer, org, task_key, payload))
