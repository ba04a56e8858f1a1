"""What ``bench_sessions`` drives: sessions of the demo agent, each with a
websocket client of the real ASGI app (uvicorn in a thread).

A ``SessionDriver`` sends a message, reads its session's socket, answers
the permission request ("deny": the repository stays as it was) and sends
the next message when the turn ends. It records, per turn, the time from
the send to the first agent chunk received on the socket, and for every
live event the time from its store (the ``stored_at`` the stream consumer
stamps after the commit) to its arrival on the socket.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from tasks import sessions


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LiveServer:
    """The ASGI app under uvicorn in a thread of this process."""

    def __init__(self) -> None:
        import uvicorn

        from foundry.asgi import application

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(
            application, host="127.0.0.1", port=self.port, log_level="warning",
            lifespan="off",
        ))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 10 s")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class SessionDriver:
    org: str
    task_id: str
    session_id: str
    url: str
    cookie: str
    turns: int
    first_chunk_ms: list[float] = field(default_factory=list)
    send_ms: list[float] = field(default_factory=list)
    event_to_ws_ms: list[float] = field(default_factory=list)
    received: list[int] = field(default_factory=list)
    error: BaseException | None = None

    def run(self) -> None:
        from websockets.sync.client import connect

        try:
            with connect(self.url, additional_headers={"Cookie": self.cookie},
                         open_timeout=10) as ws:
                while json.loads(ws.recv(timeout=10))["type"] != "caught_up":
                    continue  # the session's earlier events (initialize, session/new)
                for turn in range(self.turns):
                    self._turn(ws, turn)
        except BaseException as exc:
            self.error = exc
        finally:
            connection.close()

    def _turn(self, ws: Any, turn: int) -> None:
        started = time.perf_counter()
        sessions.send_message(self.org, self.task_id, self.session_id, f"bench turn {turn}")
        self.send_ms.append((time.perf_counter() - started) * 1000)
        first: float | None = None
        while True:
            message = json.loads(ws.recv(timeout=120))
            now = time.time()
            if message.get("type") != "event":
                continue
            self.received.append(message["seq"])
            if message.get("stored_at"):
                self.event_to_ws_ms.append((now - message["stored_at"]) * 1000)
            kind = message["kind"]
            if first is None and kind == "session_update.agent_message_chunk":
                first = (time.perf_counter() - started) * 1000
                self.first_chunk_ms.append(first)
            elif kind == "permission_request":
                sessions.answer_permission(self.org, self.task_id, self.session_id,
                                           message["data"]["id"], "deny")
            elif kind == "turn_finished":
                if message["data"].get("error"):
                    raise RuntimeError(f"turn {turn} failed: {message['data']['error']}")
                return


def drive(drivers: list[SessionDriver]) -> float:
    """Run the drivers at once; seconds until the last one finished."""
    threads = [threading.Thread(target=d.run, daemon=True) for d in drivers]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    elapsed = time.perf_counter() - started
    failed = [d for d in drivers if d.error is not None]
    if failed:
        raise RuntimeError(
            f"{len(failed)} session(s) failed, first {failed[0].session_id}: {failed[0].error!r}"
        )
    return elapsed
