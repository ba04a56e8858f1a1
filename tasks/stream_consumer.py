"""The stream consumer: the agent's events into the store, apart from the
actor queues.

One reader thread per live session reads the session's ACP stream
(sandbox-agent's SSE) from the last stored event on, stores every envelope
(insert-or-ignore, ``event_store``), publishes it to the session's Channels
group, and when the turn's response arrives sends
``task.command.turn_finished`` to the task. A session is live while a turn
runs and for ``LINGER_SECONDS`` after its last change, so the next turn's
first chunk does not wait for a new connection. A supervisor starts readers
for live sessions (woken through the channel layer's ``stream_consumer``
group when a turn starts, and looking every ``poll_seconds`` in case a
wake-up was lost) and closes the others.

Promises:

- Nothing is lost or stored twice across a restart or a SIGKILL: a reader
  always starts after the last stored event index (sandbox-agent replays
  from ``Last-Event-ID``, its buffer keeps 1,024 envelopes per server), and
  a duplicate is ignored by the store. A turn whose response was stored by
  a consumer killed before it told the task is told again on start
  (``turn_finished`` ignores a turn it already finished).
- Two consumers at once are harmless (each stores only what is new, the
  task ignores the second ``turn_finished``), only wasteful.
- A stream that cannot be read (the agent server is gone, or events were
  lost past its buffer) ends the turn with an error event, recorded.

Limits: every consumer process reads every running session (no sharding);
run one per deployment (``python manage.py stream_consumer``; the embedded
default runs it in-process).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import timedelta
from typing import Any

import httpx
from channels.layers import get_channel_layer
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone

from foundry.actors import ActorError
from foundry.live import LiveSender, live_sender
from sandboxes.acp_client import AcpEvent, AcpEventStream
from sandboxes.actor import sandbox
from sandboxes.agent_errors import AgentTransportError
from tasks import event_store
from tasks.actor import task
from tasks.session_models import Session, SessionEvent, SessionStatus
from tasks.session_records import STREAM_CONSUMER_GROUP
from users.feed import notify_owner
from users.feed_models import NotificationKind

logger = logging.getLogger(__name__)

# A dropped stream is read again this many times in a row before the turn
# fails (AcpEventStream itself retries an unreachable server 5 times).
READ_RETRIES = 5
# A reader stays connected this long after its session's last change.
LINGER_SECONDS = 30.0
METHOD_NOT_FOUND = -32601


def _tell_task(session: Session, request_id: str, *, stop_reason: str = "",
               error: str = "") -> None:
    task.get(org=session.org, task=session.task_key).send("task.command.turn_finished", {
        "session_id": session.session_id, "request_id": request_id,
        "stop_reason": stop_reason, "error": error,
    })


def turn_outcome(envelope: dict[str, Any]) -> tuple[str, str]:
    """(stop reason, error) of a prompt's response envelope."""
    if "error" in envelope:
        error = envelope.get("error") or {}
        data = error.get("data")
        return "", f"{error.get('message', 'the agent failed')}" + (
            f" ({data})" if data else ""
        )
    return str((envelope.get("result") or {}).get("stopReason", "")), ""


class SessionReader(threading.Thread):
    """Reads one session's stream while its turn runs."""

    def __init__(self, session_pk: int, sender: LiveSender) -> None:
        super().__init__(name=f"session-reader-{session_pk}", daemon=True)
        self.session_pk = session_pk
        self.sender = sender
        self._closed = threading.Event()
        self._stream: AcpEventStream | None = None

    def close(self) -> None:
        self._closed.set()
        if self._stream is not None:
            self._stream.close()

    def run(self) -> None:
        try:
            self._run()
        except Exception:
            logger.exception("reader of session %s failed", self.session_pk)
        finally:
            close_old_connections()

    def _run(self) -> None:
        failures = 0
        while not self._closed.is_set():
            session = Session.objects.get(pk=self.session_pk)
            if session.status == SessionStatus.CLOSED or not session.acp_server_id:
                return
            self._catch_up(session)
            try:
                self._read(session)
                return  # closed
            except (httpx.HTTPError, AgentTransportError, ActorError) as exc:
                if self._closed.is_set():
                    return
                failures += 1
                if failures > READ_RETRIES:
                    self._fail(session, exc)
                    return
                logger.warning("stream of session %s dropped (%s); reading it again",
                               session.session_id, exc)
                time.sleep(0.2 * failures)

    def _catch_up(self, session: Session) -> None:
        """The turn's response may be stored already (by a consumer killed
        before it told the task): tell the task now."""
        if not session.turn_request_id:
            return
        stored = SessionEvent.objects.filter(
            session_id=session.pk, kind="response", data__id=session.turn_request_id
        ).first()
        if stored is not None:
            stop_reason, error = turn_outcome(stored.data)
            _tell_task(session, session.turn_request_id, stop_reason=stop_reason, error=error)

    def _read(self, session: Session) -> None:
        client = sandbox.get(org=session.org, sandbox=session.task_key).read(
            "sandbox.read.agent_client"
        )
        try:
            stream = AcpEventStream(
                client, session.acp_server_id,
                after=session.last_event_index - session.index_base,
            )
            self._stream = stream
            if self._closed.is_set():
                return
            for event in stream:
                event_store.append_agent_events(
                    session.pk, session.index_base, [(event.index, event.envelope)],
                    publish=self.sender.send,
                )
                self._react(session, event, client)
        finally:
            client.close()

    def _react(self, session: Session, event: AcpEvent, client: Any) -> None:
        envelope = event.envelope
        request_id = str(envelope.get("id", ""))
        if event.kind == "response" and request_id.startswith("turn-"):
            stop_reason, error = turn_outcome(envelope)
            _tell_task(session, request_id, stop_reason=stop_reason, error=error)
        elif event.method == "session/request_permission":
            # Keyed by the event's index in the session: read again after a
            # restart, it notifies once.
            notify_owner(session.org, session.task_key, NotificationKind.AGENT_NEEDS_INPUT,
                         f"permission/{session.session_id}/{session.index_base + event.index}",
                         session_id=session.session_id,
                         message="the agent asks permission")
        elif event.kind == "request" and event.method != "session/request_permission":
            # Foundry offers agents no file system or terminal: say so at
            # once rather than leave the agent waiting.
            client.acp_post(session.acp_server_id, {
                "jsonrpc": "2.0", "id": envelope["id"],
                "error": {"code": METHOD_NOT_FOUND,
                          "message": f"{event.method} is not offered by Foundry"},
            })

    def _fail(self, session: Session, exc: Exception) -> None:
        session.refresh_from_db()
        if not session.turn_request_id:
            # No turn waits on it (a lingering reader of an idle session
            # whose agent server stopped): the next turn reads it again.
            logger.info("session %s: stream closed between turns (%s)",
                        session.session_id, exc)
            return
        message = f"the agent's event stream could not be read: {exc}"
        logger.error("session %s: %s", session.session_id, message)
        event_store.append_foundry_event(session.pk, "error", {"message": message},
                                         publish=self.sender.send)
        session.refresh_from_db()
        if session.turn_request_id:
            _tell_task(session, session.turn_request_id, error=message)
        sandbox.get(org=session.org, sandbox=session.task_key).send("sandbox.command.check")


class StreamConsumer:
    def __init__(self, *, poll_seconds: float = 0.5) -> None:
        self.poll_seconds = poll_seconds
        self.sender = live_sender()
        self.readers: dict[int, SessionReader] = {}
        self.wake = threading.Event()
        self.stopping = threading.Event()

    def start_listening(self) -> None:
        asyncio.run_coroutine_threadsafe(self._listen(), self.sender.loop)

    async def _listen(self) -> None:
        """Wake the supervisor when a turn starts (see session_commands)."""
        layer = get_channel_layer()
        if layer is None:
            return
        channel = await layer.new_channel()
        while not self.stopping.is_set():
            try:
                # Joined again each time: group membership expires (a day
                # with the Redis layer).
                await layer.group_add(STREAM_CONSUMER_GROUP, channel)
                await asyncio.wait_for(layer.receive(channel), timeout=30)
                self.wake.set()
            except TimeoutError:
                continue
            except Exception:
                logger.exception("the stream consumer's wake-up channel failed; retrying")
                await asyncio.sleep(1)

    def scan(self) -> None:
        recent = timezone.now() - timedelta(seconds=LINGER_SECONDS)
        running = set(
            Session.objects.filter(
                Q(status=SessionStatus.RUNNING) | Q(updated_at__gte=recent)
            ).exclude(status=SessionStatus.CLOSED).exclude(acp_server_id="")
            .values_list("pk", flat=True)
        )
        for pk in running:
            reader = self.readers.get(pk)
            if reader is None or not reader.is_alive():
                self.readers[pk] = reader = SessionReader(pk, self.sender)
                reader.start()
        for pk in list(self.readers):
            if pk not in running:
                self.readers.pop(pk).close()

    def run_forever(self) -> None:
        self.start_listening()
        while not self.stopping.is_set():
            try:
                self.scan()
            except Exception:
                logger.exception("the stream consumer's scan failed; trying again")
                close_old_connections()
            self.wake.wait(self.poll_seconds)
            self.wake.clear()
        for reader in self.readers.values():
            reader.close()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()


def start_stream_consumer() -> StreamConsumer:
    """The embedded default: the consumer as threads of this process."""
    consumer = StreamConsumer()
    threading.Thread(target=consumer.run_forever, name="foundry-stream-consumer",
                     daemon=True).start()
    return consumer
