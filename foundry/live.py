"""Live events to browsers: Channels groups, published after commit.

A change is published only once the transaction that made it commits, so a
browser never sees an event for a change that was rolled back. Publishing is
best effort: a channel layer that is down is logged, and never fails the
command that made the change.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def organization_group(org: str) -> str:
    return f"organization.{org}"


def publish_on_commit(group: str, event: str, payload: dict[str, Any]) -> None:
    def publish() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(
                group, {"type": "live.event", "event": event, **payload}
            )
        except Exception:
            logger.exception("publishing %s to %s failed", event, group)

    transaction.on_commit(publish)


def task_group(org: str, task_id: str) -> str:
    """A task's detail: sessions, their status, the queue of messages."""
    return f"task.{org}.{task_id}"


def session_group(org: str, task_id: str, session_id: str) -> str:
    """A session's transcript: every event stored, with its sequence number."""
    return f"session.{org}.{task_id}.{session_id}"


class LiveSender:
    """Publishes from plain threads through one event loop of its own.

    ``async_to_sync`` from a thread without a loop makes a new loop per call,
    and the Redis channel layer a new connection per loop: a stream consumer
    publishing every event paid a connection each time. One loop thread
    keeps the layer's connections; ``send`` hands it a message and returns.
    Best effort like ``publish_on_commit``: a failure is logged.
    """

    def __init__(self) -> None:
        import asyncio
        import threading

        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="foundry-live-sender", daemon=True
        )
        self._thread.start()

    def send(self, group: str, event: str, payload: dict[str, Any]) -> None:
        import asyncio

        layer = get_channel_layer()
        if layer is None:
            return
        message = {"type": "live.event", "event": event, **payload}

        async def publish() -> None:
            try:
                await layer.group_send(group, message)
            except Exception:
                logger.exception("publishing %s to %s failed", event, group)

        asyncio.run_coroutine_threadsafe(publish(), self.loop)
