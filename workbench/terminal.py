"""A terminal in the task's sandbox: ``ws/o/<org>/t/<task>/terminal/``.

The browser's socket is bridged to a TTY process that sandbox-agent runs in
the sandbox (``POST /v1/processes`` with ``tty`` and ``interactive``, then
its ``/v1/processes/{id}/terminal/ws``). Frames to the browser are JSON
text: ``{"type": "output", "data"}`` (the PTY's bytes decoded as UTF-8,
a character split across two chunks kept for the next), ``ready``,
``exit`` with ``code``, ``error`` with ``message``; from the browser,
``input`` with ``data`` and ``resize`` with ``cols`` and ``rows``, passed
on in sandbox-agent's own frame format (verified with 0.4.2).

Access is checked as for every socket: anonymous → close 4401; not a
member, or a task not in that organization's index → close 4404. A sandbox
that is not ready is an answer (an ``error`` frame, then close 4409), not a
crash. One shell per socket: it is killed when the socket closes, so a
closed tab leaves no process behind.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import websockets
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from websockets.asyncio.client import ClientConnection

from orgs.access import user_is_member
from orgs.models import TaskIndexEntry
from sandboxes.agent_errors import AgentTransportError
from sandboxes.agent_http import SandboxAgentClient
from sandboxes.models import Sandbox, SandboxStatus
from sandboxes.process_client import ProcessClient

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_NOT_READY = 4409
# A login shell when the sandbox has bash, else sh: E2B and local both do.
SHELL = ["-c", "command -v bash >/dev/null 2>&1 && exec bash -i || exec sh -i"]
MAX_INPUT_CHARS = 64 * 1024  # one paste; sandbox-agent refuses larger frames


@dataclass(frozen=True)
class TerminalTarget:
    agent_url: str
    agent_token: str
    repo_path: str
    status: str


def find_target(user: Any, org: str, task_id: str) -> TerminalTarget | None:
    """The task's sandbox, or None when ``user`` may not see the task."""
    if not user_is_member(user, org):
        return None
    if not TaskIndexEntry.objects.filter(org=org, task_id=task_id).exists():
        return None
    row = Sandbox.objects.filter(org=org, sandbox_id=task_id).first()
    if row is None:
        return TerminalTarget("", "", "", "not provisioned")
    return TerminalTarget(row.agent_url, row.agent_token, row.repo_path, row.status)


def _ws_url(agent_url: str, process_id: str) -> str:
    parts = urlsplit(agent_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    path = parts.path.rstrip("/") + f"/v1/processes/{process_id}/terminal/ws"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


class TerminalConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]  # untyped base
    target: TerminalTarget | None = None
    process_id: str = ""
    upstream: ClientConnection | None = None
    pump: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        kwargs = self.scope["url_route"]["kwargs"]
        user = self.scope.get("user")
        # Accepted before it is refused: a close before the handshake is an
        # HTTP 403 to the browser, which loses the reason.
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.target = await database_sync_to_async(find_target)(
            user, str(kwargs["org"]), str(kwargs["task_id"]))
        if self.target is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        if self.target.status != SandboxStatus.READY:
            await self._error_and_close(
                f"The sandbox is {self.target.status}: start or resume it in Overview.")
            return
        try:
            await self._open_shell(self.target)
        except (AgentTransportError, OSError, websockets.WebSocketException) as exc:
            log.warning("terminal of %s/%s: %s", kwargs["org"], kwargs["task_id"], exc)
            await self._error_and_close(f"The terminal could not start: {exc}")

    async def _open_shell(self, target: TerminalTarget) -> None:
        def start() -> str:
            with SandboxAgentClient(target.agent_url, token=target.agent_token) as client:
                info = ProcessClient(client).start(
                    "sh", SHELL, cwd=target.repo_path or None, tty=True, interactive=True,
                    env={"TERM": "xterm-256color"})
            return info.id

        self.process_id = await asyncio.to_thread(start)
        headers = ({"Authorization": f"Bearer {target.agent_token}"}
                   if target.agent_token else None)
        self.upstream = await websockets.connect(
            _ws_url(target.agent_url, self.process_id), additional_headers=headers,
            max_size=None, open_timeout=10)
        self.pump = asyncio.create_task(self._pump(self.upstream))

    async def _pump(self, upstream: ClientConnection) -> None:
        """sandbox-agent → browser, until the shell or the socket ends."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            async for frame in upstream:
                if isinstance(frame, bytes):
                    text = decoder.decode(frame)
                    if text:
                        await self.send(text_data=json.dumps({"type": "output", "data": text}))
                    continue
                message = json.loads(frame)
                kind = message.get("type")
                if kind == "ready":
                    await self.send(text_data=json.dumps({"type": "ready"}))
                elif kind == "exit":
                    await self.send(text_data=json.dumps(
                        {"type": "exit", "code": message.get("exitCode")}))
                elif kind == "error":
                    await self.send(text_data=json.dumps(
                        {"type": "error", "message": str(message.get("message", ""))}))
        except websockets.ConnectionClosed:
            pass  # the shell ended or the sandbox went away: closed below
        await self.close()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.upstream is None or not text_data:
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            return  # not a frame of ours: ignored, the shell is not disturbed
        if message.get("type") == "input":
            data = str(message.get("data", ""))[:MAX_INPUT_CHARS]
            frame: dict[str, Any] = {"type": "input", "data": data}
        elif message.get("type") == "resize":
            cols, rows = int(message.get("cols") or 0), int(message.get("rows") or 0)
            if not (0 < cols <= 1000 and 0 < rows <= 1000):
                return
            frame = {"type": "resize", "cols": cols, "rows": rows}
        else:
            return
        try:
            await self.upstream.send(json.dumps(frame))
        except websockets.ConnectionClosed:
            await self.close()

    async def _error_and_close(self, text: str) -> None:
        await self.send(text_data=json.dumps({"type": "error", "message": text}))
        await self.close(code=CLOSE_NOT_READY)

    async def disconnect(self, code: int) -> None:
        if self.pump is not None:
            self.pump.cancel()
        if self.upstream is not None:
            await self.upstream.close()
        if self.process_id and self.target is not None:
            await asyncio.to_thread(self._kill, self.target, self.process_id)

    @staticmethod
    def _kill(target: TerminalTarget, process_id: str) -> None:
        try:
            with SandboxAgentClient(target.agent_url, token=target.agent_token) as client:
                ProcessClient(client).kill(process_id)
        except AgentTransportError as exc:
            # Already exited (the person typed exit) or the sandbox is gone.
            log.info("terminal process %s not killed: %s", process_id, exc)
