"""The live socket: one websocket joins Channels groups and forwards their
``live.event`` messages to the browser as JSON.

Access is checked when the socket opens, as for pages: anonymous → close
4401, not a member of the organization → close 4404 (the same answer as a
missing organization). ``LiveConsumer`` is the base: a subclass says which
groups a socket joins (``groups_for``) after its own check, so task and
session sockets add a class, not a protocol.
"""

from __future__ import annotations

import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from foundry.live import organization_group
from orgs.access import user_is_member

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


class LiveConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]  # untyped base
    joined: list[str]

    async def groups_for(self, user: Any, kwargs: dict[str, Any]) -> list[str] | None:
        """The groups this socket joins, or None when ``user`` may not see
        them (the socket is then closed as not found)."""
        raise NotImplementedError

    async def connect(self) -> None:
        self.joined = []
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(CLOSE_UNAUTHENTICATED)
            return
        groups = await self.groups_for(user, self.scope["url_route"]["kwargs"])
        if groups is None:
            await self._refuse(CLOSE_NOT_FOUND)
            return
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
            self.joined.append(group)
        await self.accept()

    async def _refuse(self, code: int) -> None:
        """Accept, then close with ``code``: a handshake refused outright
        reaches the browser as a bare 403, with no code to act on."""
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """The browser only listens; what it sends is ignored."""

    async def live_event(self, message: dict[str, Any]) -> None:
        await self.send_json({k: v for k, v in message.items() if k != "type"})


class OrganizationConsumer(LiveConsumer):
    """``ws/o/<org_id>/``: the organization's events (installation, sync
    progress, task summaries)."""

    async def groups_for(self, user: Any, kwargs: dict[str, Any]) -> list[str] | None:
        org_id = str(kwargs["org_id"])
        if not await database_sync_to_async(user_is_member)(user, org_id):
            return None
        return [organization_group(org_id)]
