"""Live events to browsers: Channels groups, published after commit.

A change is published only once the transaction that made it commits, so a
browser never sees an event for a change that was rolled back. Publishing is
best effort: a channel layer that is down is logged, and never fails the
command that made the change. Messages go out through one sender per
process (``LiveSender``: its own event loop, the channel layer's
connections kept), in the order they were published.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def organization_group(org: str) -> str:
    return f"organization.{org}"


def user_group(user_id: int | str) -> str:
    """The person's own events (memberships, later the task feed)."""
    return f"user.{user_id}"


def publish_now(group: str, event: str, payload: dict[str, Any]) -> None:
    """Publish at once (queued to this process's sender, in order): for
    events that record no database change (or whose change already
    committed). Consumers get ``{"type": "live.event", "event": event,
    **payload}`` and forward it as JSON."""
    live_sender().send(group, event, payload)


def publish_on_commit(group: str, event: str, payload: dict[str, Any]) -> None:
    transaction.on_commit(lambda: live_sender().send(group, event, payload))


def task_group(org: str, task_id: str) -> str:
    """A task's detail: sessions, their status, the queue of messages."""
    return f"task.{org}.{task_id}"


def session_group(org: str, task_id: str, session_id: str) -> str:
    """A session's transcript: every event stored, with its sequence number."""
    return f"session.{org}.{task_id}.{session_id}"


class LiveSender:
    """Publishes from plain threads through one event loop of its own.

    ``async_to_sync`` from a thread without a loop makes a new loop per call,
    and the Redis channel layer a new connection per loop: a command or a
    stream consumer publishing an event paid a connection each time. One
    loop thread keeps the layer's connections; ``send`` queues the message
    and returns, and one coroutine sends them in the order they were queued.
    Best effort: a failure is logged.
    """

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="foundry-live-sender",
                                        daemon=True)
        self._thread.start()
        self._ready.wait()

    def _run(self) -> None:
        import asyncio

        asyncio.set_event_loop(self.loop)
        self._queue = asyncio.Queue()
        self.loop.create_task(self._send_in_order())
        self._ready.set()
        self.loop.run_forever()

    async def _send_in_order(self) -> None:
        assert self._queue is not None
        while True:
            group, message = await self._queue.get()
            layer = get_channel_layer()
            if layer is None:
                continue
            try:
                await layer.group_send(group, message)
            except Exception:
                logger.exception("publishing %s to %s failed", message.get("event"), group)

    def send(self, group: str, event: str, payload: dict[str, Any]) -> None:
        assert self._queue is not None
        message = {"type": "live.event", "event": event, **payload}
        self.loop.call_soon_threadsafe(self._queue.put_nowait, (group, message))


_sender: LiveSender | None = None
_sender_lock = threading.Lock()


def live_sender() -> LiveSender:
    """This process's sender (started on first use, so after a fork)."""
    global _sender
    with _sender_lock:
        if _sender is None:
            _sender = LiveSender()
        return _sender


class InProcessChannelLayer(InMemoryChannelLayer):  # type: ignore[misc]
    """The in-memory channel layer of the embedded run, safe across threads.

    Channels' in-memory layer hands a message to the receiver's
    ``asyncio.Queue`` directly; from another thread's loop (a worker thread,
    the stream consumer, ``LiveSender``) that wakes nothing, and the socket
    never heard it (measured: three messages, none received). A send to a
    channel whose receiver waits in another running loop runs in that loop.
    """

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        import asyncio

        queue = self.channels.get(channel)
        loop = getattr(queue, "_loop", None)  # set once a receiver awaited it
        if loop is not None and loop.is_running() and loop is not asyncio.get_running_loop():
            sent = asyncio.run_coroutine_threadsafe(super().send(channel, message), loop)
            await asyncio.wrap_future(sent)
            return
        await super().send(channel, message)
