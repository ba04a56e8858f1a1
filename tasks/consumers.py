"""A session's transcript over a websocket: ``ws/o/<org>/t/<task>/s/<session>/``.

The client connects with its last sequence number (``?after=N``, 0 for
all) and receives every stored event after it, in order, then live events
as they are stored, each once: ``{"type": "event", "seq", "kind", "source",
"data", "at"}``, and ``{"type": "caught_up", "last_seq"}`` when the backlog
is sent.

Promises: exactly what was missed, then live. The consumer joins the
session's group *before* it reads the store, so an event stored meanwhile
arrives live (and one both read and heard is sent once: sequence numbers
only go up); a live event that skips numbers (the Redis channel layer drops
messages to a full channel) makes it read the gap from the store first.
Membership is checked like every page (``orgs.access``): anonymous closes
with 4401, a non-member, or a task or session not in the organization,
with 4404 (nothing tells them apart). Errors of the consumer close its
socket, never the server.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from foundry.live import session_group
from orgs.access import user_is_member
from tasks.session_models import Session, SessionEvent

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
BATCH = 500


def _event_json(event: SessionEvent) -> dict[str, Any]:
    return {"type": "event", "seq": event.seq, "kind": event.kind, "source": event.source,
            "data": event.data, "at": event.at.isoformat()}


class SessionCatchUp:
    """The catch-up of one session's transcript, for any socket that sends
    it: the events after ``last_sent`` from the store, then live events once
    each (a gap is read from the store first). Used by this module's socket
    and by the workbench's page socket (``workbench.consumers``)."""

    session_pk: int | None = None
    last_sent = 0
    send_json: Any  # the consumer's (a mixin ahead of it must not shadow it)

    def _events_after(self, seq: int) -> list[dict[str, Any]]:
        return [
            _event_json(e)
            for e in SessionEvent.objects.filter(session_id=self.session_pk or 0, seq__gt=seq)
            .order_by("seq")[:BATCH]
        ]

    async def _send_from_store(self) -> None:
        while True:
            events = await database_sync_to_async(self._events_after)(self.last_sent)
            for event in events:
                await self.send_json(event)
                self.last_sent = event["seq"]
            if len(events) < BATCH:
                return

    async def send_session_event(self, message: dict[str, Any]) -> None:
        """A ``session.event`` live message: sent once, in order."""
        seq = int(message["seq"])
        if seq <= self.last_sent:
            return  # sent already (read from the store)
        if seq > self.last_sent + 1:
            await self._send_from_store()  # a gap: read it, this event included
            return
        await self.send_json({
            "type": "event", "seq": seq, "kind": message["kind"], "source": message["source"],
            "data": message["data"], "at": message["at"], "stored_at": message.get("stored_at"),
        })
        self.last_sent = seq


def after_seq_of(scope: dict[str, Any]) -> int:
    """The client's last sequence number (``?after=N``; 0 when absent or bad)."""
    query = parse_qs(scope.get("query_string", b"").decode())
    try:
        return max(0, int((query.get("after") or ["0"])[0]))
    except ValueError:
        return 0


class SessionTranscriptConsumer(SessionCatchUp, AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    async def connect(self) -> None:
        kwargs = self.scope["url_route"]["kwargs"]
        org, task_id, session_id = kwargs["org"], kwargs["task"], kwargs["session"]
        user = self.scope.get("user")
        # Accepted before it is refused: a close before the handshake is an
        # HTTP 403 to the browser, which loses the reason.
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.session_pk = await database_sync_to_async(self._find)(
            user, org, task_id, session_id
        )
        if self.session_pk is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.last_sent = after_seq_of(self.scope)
        self.group = session_group(org, task_id, session_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self._send_from_store()
        await self.send_json({"type": "caught_up", "last_seq": self.last_sent})

    @staticmethod
    def _find(user: Any, org: str, task_id: str, session_id: str) -> int | None:
        return find_session_pk(user, org, task_id, session_id)

    async def live_event(self, message: dict[str, Any]) -> None:
        if message.get("event") == "session.event":
            await self.send_session_event(message)

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        return  # the transcript socket only sends; actions go through commands


def find_session_pk(user: Any, org: str, task_id: str, session_id: str) -> int | None:
    """The session's row when ``user`` may see it (a member), else None."""
    if not user_is_member(user, org):
        return None
    return (
        Session.objects.filter(org=org, task_key=task_id, session_id=session_id)
        .values_list("pk", flat=True).first()
    )
