"""A session's transcript, built from its event store, page by page.

Items: the person's messages, the agent's text (consecutive chunks merged
into one message), its thoughts, the plan (each plan replaces the last),
tool calls with their updates and results merged by tool call id,
permission requests (pending, answered with the option, or expired when
the turn ended unanswered), errors, the end of each turn, usage. Every
event belongs to exactly one page (pages are ranges of sequence numbers),
so a transcript of any length reads in full, not only its first 100
events. A tool call updated on a later page shows there as a
``tool_call_update`` item with the same ``tool_call_id``.

Each mapping from an event to an item is a small pure function.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tasks.session_models import Session, SessionEvent, SessionStatus

PAGE_SIZE = 200


@dataclass
class TranscriptItem:
    kind: str  # user_message, agent_message, agent_thought, plan, tool_call, ...
    first_seq: int
    last_seq: int
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TranscriptPage:
    session_id: str
    status: str
    after_seq: int
    last_seq: int  # the last sequence number of this page
    has_more: bool
    items: list[TranscriptItem]
    queued: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "items": [i.to_json() for i in self.items]}


def _update(event: SessionEvent) -> dict[str, Any]:
    return dict(((event.data.get("params") or {}).get("update")) or {})


def _text(content: Any) -> str:
    if isinstance(content, dict):
        return str(content.get("text") or "")
    return ""


def permission_states(session: Session) -> dict[str, dict[str, Any]]:
    """Every permission request of the session by its JSON-RPC id (as a
    string): ``pending``, ``answered`` (with the option) or ``expired`` (its
    turn ended first)."""
    events = SessionEvent.objects.filter(
        session=session, kind__in=["permission_request", "permission_answered", "turn_finished"]
    ).order_by("seq")
    states: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.kind == "permission_request":
            params = event.data.get("params") or {}
            states[str(event.data.get("id"))] = {
                # The JSON-RPC id as the agent sent it (0 and "0" differ).
                "request_id": event.data.get("id"), "status": "pending", "seq": event.seq,
                "option_ids": [o.get("optionId") for o in params.get("options") or []],
                "option_id": None,
            }
        elif event.kind == "permission_answered":
            state = states.get(str(event.data.get("request_id")))
            if state is not None:
                state.update(status="answered", option_id=event.data.get("option_id"))
        else:
            for state in states.values():
                if state["status"] == "pending":
                    state["status"] = "expired"
    return states


class _Builder:
    def __init__(self, permissions: dict[str, dict[str, Any]]) -> None:
        self.items: list[TranscriptItem] = []
        self.tool_calls: dict[str, TranscriptItem] = {}
        self.permissions = permissions

    def add(self, kind: str, event: SessionEvent, **data: Any) -> TranscriptItem:
        item = TranscriptItem(kind, event.seq, event.seq, data)
        self.items.append(item)
        return item

    def chunk(self, kind: str, event: SessionEvent, text: str) -> None:
        last = self.items[-1] if self.items else None
        if last is not None and last.kind == kind:
            last.data["text"] += text
            last.last_seq = event.seq
        else:
            self.add(kind, event, text=text)

    def tool(self, event: SessionEvent, update: dict[str, Any]) -> None:
        call_id = str(update.get("toolCallId"))
        fields = {k: v for k, v in update.items() if k != "sessionUpdate" and v is not None}
        item = self.tool_calls.get(call_id)
        if item is None:
            kind = "tool_call" if update.get("sessionUpdate") == "tool_call" else (
                "tool_call_update"
            )
            item = self.add(kind, event, tool_call_id=call_id)
            self.tool_calls[call_id] = item
        item.data.update(fields)
        item.last_seq = event.seq

    def event(self, event: SessionEvent) -> None:
        kind, data = event.kind, event.data
        if kind == "user_message":
            self.add("user_message", event, text=data.get("text", ""),
                     user_id=data.get("user_id"), message_id=data.get("message_id"))
        elif kind == "session_update.agent_message_chunk":
            self.chunk("agent_message", event, _text(_update(event).get("content")))
        elif kind == "session_update.agent_thought_chunk":
            self.chunk("agent_thought", event, _text(_update(event).get("content")))
        elif kind == "session_update.plan":
            self.add("plan", event, entries=_update(event).get("entries") or [])
        elif kind in ("session_update.tool_call", "session_update.tool_call_update"):
            self.tool(event, _update(event))
        elif kind == "session_update.usage_update":
            update = _update(event)
            self.add("usage", event, used=update.get("used"), size=update.get("size"),
                     cost=update.get("cost"))
        elif kind == "permission_request":
            params = data.get("params") or {}
            state = self.permissions.get(str(data.get("id")), {})
            self.add("permission_request", event, request_id=data.get("id"),
                     tool_call=params.get("toolCall"), options=params.get("options") or [],
                     status=state.get("status", "pending"), option_id=state.get("option_id"))
        elif kind == "response":
            self.response(event)
        elif kind == "turn_finished":
            self.add("turn_finished", event, stop_reason=data.get("stop_reason"),
                     error=data.get("error"))
        elif kind in ("error", "session_reopened", "queue_dropped"):
            self.add(kind, event, **data)
        # Other events (the answer to a permission request, responses to
        # initialize and session/new) are in the store and in events_page.

    def response(self, event: SessionEvent) -> None:
        data = event.data
        if "error" in data:
            error = data["error"] or {}
            self.add("error", event, message=str(error.get("message", "")),
                     code=error.get("code"), data=error.get("data"),
                     request_id=data.get("id"))
            return
        result = data.get("result") or {}
        if "stopReason" in result and result.get("usage"):
            self.add("usage", event, turn=result.get("usage"))


def transcript_page(
    session: Session, *, after_seq: int = 0, limit: int = PAGE_SIZE
) -> TranscriptPage:
    """Items built from the events with ``after_seq < seq <= after_seq + limit``."""
    events = list(
        SessionEvent.objects.filter(session=session, seq__gt=after_seq)
        .order_by("seq")[: limit + 1]
    )
    has_more = len(events) > limit
    events = events[:limit]
    builder = _Builder(permission_states(session))
    for event in events:
        builder.event(event)
    return TranscriptPage(
        session_id=session.session_id,
        status=session.status,
        after_seq=after_seq,
        last_seq=events[-1].seq if events else after_seq,
        has_more=has_more,
        items=builder.items,
        queued=[{"id": m["id"], "text": m["text"]} for m in session.queued_messages],
    )


def events_page(
    session: Session, *, after_seq: int = 0, limit: int = PAGE_SIZE
) -> list[dict[str, Any]]:
    """The raw events (every envelope, every record) after ``after_seq``."""
    return [
        {"seq": e.seq, "event_index": e.event_index, "source": e.source, "kind": e.kind,
         "data": e.data, "at": e.at.isoformat()}
        for e in SessionEvent.objects.filter(session=session, seq__gt=after_seq)
        .order_by("seq")[:limit]
    ]


def turn_running(session: Session) -> bool:
    return session.status == SessionStatus.RUNNING
