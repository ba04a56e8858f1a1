"""Every request/response pair the emulator serves, handed to whoever listens.

The test suite listens to check each response against GitHub's REST description
(`conformance.py`). Listeners are process-wide on purpose: one listener added at
the start of a test session sees every emulator started in that process, so no
test can forget to switch recording on. With no listener an exchange is never
built; a listener runs in the server thread that answered, so it must be quick
and must not raise (an exception there would turn into the client's 500).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

# Which part of the emulator answered: the REST API, the OAuth web flow, the
# `/_emulator/` control routes, git smart HTTP, or the avatar images.
AREAS = ("api", "oauth", "control", "git", "avatar")


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str  # without the query string
    query: str
    area: str  # one of AREAS
    route: str | None  # the route template that answered; None: no route matched
    status: int
    content_type: str
    body: bytes

    def describe(self) -> str:
        target = f"{self.path}?{self.query}" if self.query else self.path
        return f"{self.method} {target} -> {self.status}"


Listener = Callable[[Exchange], None]

_lock = threading.Lock()
_listeners: list[Listener] = []


def add_listener(listener: Listener) -> None:
    with _lock:
        _listeners.append(listener)


def remove_listener(listener: Listener) -> None:
    with _lock:
        _listeners.remove(listener)


def listening() -> bool:
    return bool(_listeners)


def publish(exchange: Exchange) -> None:
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(exchange)
