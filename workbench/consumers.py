"""The workbench page's one websocket: ``ws/o/<org id>/live/``.

The organization socket (``orgs.consumers.OrganizationConsumer``) extended
with what the page shows: ``?task=<task id>`` adds the task's group (its
sessions and status), ``&session=<session id>&after=<seq>`` the session's
transcript from the client's last sequence number, with the session
socket's own catch-up (``tasks.consumers.SessionCatchUp``): exactly what
was missed, then live, each event once. Membership is checked as for
pages: anonymous closes with 4401; a non-member, or a task or session not
in the organization, with 4404.

Messages: organization and task events as ``{"event": ..., ...}``;
transcript events as ``{"type": "event", "seq", ...}`` and one
``{"type": "caught_up", "last_seq"}`` after the backlog.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from foundry.live import session_group, task_group
from orgs.consumers import OrganizationConsumer
from tasks.consumers import SessionCatchUp, after_seq_of, find_session_pk
from tasks.models import Task


def _query(scope: dict[str, Any], name: str) -> str:
    return (parse_qs(scope.get("query_string", b"").decode()).get(name) or [""])[0]


class WorkbenchConsumer(SessionCatchUp, OrganizationConsumer):
    async def groups_for(self, user: Any, kwargs: dict[str, Any]) -> list[str] | None:
        groups = await super().groups_for(user, kwargs)
        if groups is None:
            return None
        org = str(kwargs["org_id"])
        task_id = _query(self.scope, "task")
        if not task_id:
            return groups
        exists = await database_sync_to_async(
            Task.objects.filter(org=org, task_id=task_id).exists
        )()
        if not exists:
            return None
        groups.append(task_group(org, task_id))
        session_id = _query(self.scope, "session")
        if session_id:
            self.session_pk = await database_sync_to_async(find_session_pk)(
                user, org, task_id, session_id
            )
            if self.session_pk is None:
                return None
            self.last_sent = after_seq_of(self.scope)
            groups.append(session_group(org, task_id, session_id))
        return groups

    async def connect(self) -> None:
        await super().connect()
        # Joined before the store is read: an event stored meanwhile comes
        # live, and one both read and heard is sent once.
        if self.session_pk is not None and self.joined:
            await self._send_from_store()
            await self.send_json({"type": "caught_up", "last_seq": self.last_sent})

    async def live_event(self, message: dict[str, Any]) -> None:
        if message.get("event") == "session.event":
            if self.session_pk is not None:
                await self.send_session_event(message)
            return
        await super().live_event(message)
