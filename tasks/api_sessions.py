"""A task's sessions over the API: list, create, the transcript page by
page, send, stop, answer a permission request, and a server-sent-events
stream of a session's new events for clients without a websocket.

The stream reads the session's event store (the same rows the websocket
sends) every ``SSE_POLL_SECONDS`` from a sequence number (``?after=`` or a
reconnecting client's ``Last-Event-ID``): each event once, in order, its
``id:`` the sequence number. It ends when the client goes (the ASGI server
cancels the response: the loop stops at its next await), or with
``?until_idle=true`` once the session is no longer running and every
stored event was sent.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Field, Query, Schema, Status

from foundry.api import ERRORS, AcceptedOut, ApiError, accepted, person
from tasks.api import router
from tasks.api_access import acted_on, member_session, member_task
from tasks.session_models import Session, SessionEvent, SessionStatus
from tasks.transcript import PAGE_SIZE, permission_states, transcript_page

FAST_WAIT = 10.0
SSE_POLL_SECONDS = 0.25
SSE_HEARTBEAT_SECONDS = 15.0
SSE_BATCH = 200

BASE = "/orgs/{org}/tasks/{task_id}/sessions"
COMMAND = {200: AcceptedOut, 202: AcceptedOut, **ERRORS}


class WaitQuery(Schema):
    wait: float = Field(0.0, ge=0, le=600)


class FastWaitQuery(Schema):
    wait: float = Field(FAST_WAIT, ge=0, le=600)


class SessionOut(Schema):
    session_id: str
    title: str
    agent: str
    model: str
    status: str
    error: str
    turns: int
    last_seq: int
    queued: int
    created_at: datetime
    updated_at: datetime


def _session_out(s: Session) -> SessionOut:
    return SessionOut(session_id=s.session_id, title=s.title, agent=s.agent, model=s.model,
                      status=s.status, error=s.error, turns=s.turns, last_seq=s.last_seq,
                      queued=len(s.queued_messages), created_at=s.created_at,
                      updated_at=s.updated_at)


@router.get(BASE, response={200: list[SessionOut], **ERRORS}, summary="A task's sessions")
def list_sessions(request: HttpRequest, org: str, task_id: str) -> list[SessionOut]:
    member_task(request, org, task_id)
    rows = Session.objects.filter(org=org, task_key=task_id).order_by("created_at", "pk")
    return [_session_out(s) for s in rows]


class SessionIn(Schema):
    agent: str | None = Field(None, max_length=64)
    model: str | None = Field(None, max_length=128)
    title: str = Field("", max_length=200)


class SessionAcceptedOut(AcceptedOut):
    session_id: str


@router.post(BASE, response={200: SessionAcceptedOut, 202: SessionAcceptedOut, **ERRORS},
             summary="A new session (the sandbox is ensured first: 202;"
                     " ?wait=SECONDS for it to open)")
def create_session(request: HttpRequest, org: str, task_id: str, body: SessionIn,
                   q: Query[WaitQuery]) -> Status[SessionAcceptedOut]:
    handle = acted_on(request, org, task_id)
    session_id = uuid.uuid4().hex[:12]
    ref = handle.send("task.command.create_session", {
        "session_id": session_id, "agent": body.agent, "model": body.model,
        "as_user": person(request).pk, "title": body.title,
    })
    out = accepted(request, org, ref, q.wait)
    return Status(out.status_code,
                  SessionAcceptedOut(**out.value.model_dump(), session_id=session_id))


class TranscriptQuery(Schema):
    after: int = Field(0, ge=0, le=2**31 - 1, description="sequence number to read after")
    limit: int = Field(PAGE_SIZE, ge=1, le=1000)


class TranscriptItemOut(Schema):
    kind: str
    first_seq: int
    last_seq: int
    data: dict[str, Any]


class QueuedOut(Schema):
    id: str
    text: str


class TranscriptPageOut(Schema):
    session_id: str
    status: str
    after_seq: int
    last_seq: int
    has_more: bool
    items: list[TranscriptItemOut]
    queued: list[QueuedOut]


@router.get(BASE + "/{session_id}/transcript", response={200: TranscriptPageOut, **ERRORS},
            summary="A page of the transcript: the events after ?after=, as items")
def transcript(request: HttpRequest, org: str, task_id: str, session_id: str,
               q: Query[TranscriptQuery]) -> TranscriptPageOut:
    session = member_session(request, org, task_id, session_id)
    page = transcript_page(session, after_seq=q.after, limit=q.limit)
    return TranscriptPageOut(**page.to_json())


class MessageIn(Schema):
    text: str = Field(min_length=1, max_length=100_000)


@router.post(BASE + "/{session_id}/messages", response=COMMAND,
             summary="Send a message: the turn starts (or the message is queued behind"
                     " the running one); the sender becomes the task's owner")
def send_message(request: HttpRequest, org: str, task_id: str, session_id: str,
                 body: MessageIn, q: Query[FastWaitQuery]) -> Status[AcceptedOut]:
    member_session(request, org, task_id, session_id)
    if not body.text.strip():
        raise ApiError(422, "invalid_request", "the message is empty")
    ref = acted_on(request, org, task_id).send("task.command.send_message", {
        "session_id": session_id, "text": body.text, "as_user": person(request).pk,
        "message_id": uuid.uuid4().hex[:12],
    })
    return accepted(request, org, ref, q.wait)


@router.post(BASE + "/{session_id}/stop", response=COMMAND, summary="Stop the running turn")
def stop(request: HttpRequest, org: str, task_id: str, session_id: str,
         q: Query[FastWaitQuery]) -> Status[AcceptedOut]:
    member_session(request, org, task_id, session_id)
    ref = acted_on(request, org, task_id).send("task.command.stop",
                                               {"session_id": session_id})
    return accepted(request, org, ref, q.wait)


class PermissionIn(Schema):
    option_id: str | None = Field(
        None, max_length=100, description="one of the request's options; null: cancelled")


@router.post(BASE + "/{session_id}/permissions/{request_id}", response=COMMAND,
             summary="Answer the agent's permission request")
def answer_permission(request: HttpRequest, org: str, task_id: str, session_id: str,
                      request_id: str, body: PermissionIn,
                      q: Query[FastWaitQuery]) -> Status[AcceptedOut]:
    session = member_session(request, org, task_id, session_id)
    state = permission_states(session).get(request_id)
    if state is None:
        raise ApiError(404, "not_found", f"permission request {request_id} not found")
    if state["status"] != "pending":
        raise ApiError(409, "conflict", f"permission request {request_id} is {state['status']}")
    if body.option_id is not None and body.option_id not in state["option_ids"]:
        raise ApiError(422, "invalid_request",
                       f"option_id is one of {', '.join(state['option_ids'])} (or null)")
    ref = acted_on(request, org, task_id).send("task.command.answer_permission", {
        "session_id": session_id, "request_id": state["request_id"],
        "option_id": body.option_id, "as_user": person(request).pk,
    })
    return accepted(request, org, ref, q.wait)


# --- server-sent events ---------------------------------------------------------------


class EventsQuery(Schema):
    after: int = Field(0, ge=0, le=2**31 - 1, description="sequence number to stream after")
    until_idle: bool = Field(False, description="end once the session is not running and"
                                                " every stored event was sent")


def _batch(session_pk: int, after: int) -> tuple[list[dict[str, Any]], bool]:
    """Events after ``after`` and whether the session still runs (read
    before the events, so an event stored as the turn ends is not missed)."""
    running = Session.objects.filter(pk=session_pk,
                                     status=SessionStatus.RUNNING).exists()
    events = [
        {"seq": e.seq, "kind": e.kind, "source": e.source, "data": e.data,
         "at": e.at.isoformat()}
        for e in SessionEvent.objects.filter(session_id=session_pk, seq__gt=after)
        .order_by("seq")[:SSE_BATCH]
    ]
    return events, running


def _frame(event: dict[str, Any]) -> bytes:
    return (f"id: {event['seq']}\nevent: {event['kind']}\n"
            f"data: {json.dumps(event, separators=(',', ':'))}\n\n").encode()


async def event_stream(session_pk: int, after: int, *, until_idle: bool
                       ) -> AsyncIterator[bytes]:
    read = sync_to_async(_batch)
    yield b"retry: 2000\n\n"
    quiet = 0.0
    while True:
        events, running = await read(session_pk, after)
        for event in events:
            yield _frame(event)
            after = event["seq"]
        if events:
            quiet = 0.0
            if len(events) == SSE_BATCH:
                continue
        elif until_idle and not running:
            yield b"event: idle\ndata: {\"last_seq\": %d}\n\n" % after
            return
        await asyncio.sleep(SSE_POLL_SECONDS)
        quiet += SSE_POLL_SECONDS
        if quiet >= SSE_HEARTBEAT_SECONDS:
            # A comment keeps proxies from closing an idle stream.
            yield b": keep-alive\n\n"
            quiet = 0.0


@router.get(BASE + "/{session_id}/events", response={200: None, **ERRORS},
            summary="Server-sent events: the session's events after ?after= (or"
                    " Last-Event-ID), as they are stored",
            openapi_extra={"responses": {"200": {
                "description": "text/event-stream; each event's id is its sequence number",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            }}})
def events(request: HttpRequest, org: str, task_id: str, session_id: str,
           q: Query[EventsQuery]) -> StreamingHttpResponse:
    session = member_session(request, org, task_id, session_id)
    after = q.after
    last_event_id = request.headers.get("Last-Event-ID", "")
    if last_event_id.isdigit():
        after = max(after, int(last_event_id))
    response = StreamingHttpResponse(
        event_stream(session.pk, after, until_idle=q.until_idle),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response
