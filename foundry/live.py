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


def user_group(user_id: int | str) -> str:
    """The person's own events (memberships, later the task feed)."""
    return f"user.{user_id}"


def publish_now(group: str, event: str, payload: dict[str, Any]) -> None:
    """Publish at once: for events that record no database change (or
    whose change already committed). Consumers get ``{"type":
    "live.event", "event": event, **payload}`` and forward it as JSON."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "live.event", "event": event, **payload})
    except Exception:
        logger.exception("publishing %s to %s failed", event, group)


def publish_on_commit(group: str, event: str, payload: dict[str, Any]) -> None:
    transaction.on_commit(lambda: publish_now(group, event, payload))
