"""The runtime's Redis: one client per process, and key names per database.

Doorbell counts (``doorbell.py``) and replies (``replies.py``) share the
client. Without ``REDIS_URL`` there is none, and both keep their state in
the process (the embedded run, where the worker is a thread of the web
process).
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

T = TypeVar("T")


class PerProcess(Generic[T]):
    """A value built once per process: a forked worker child (prefork pool)
    inherits the parent's object but must not share its connections."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._value: tuple[int, T] | None = None

    def get(self) -> T:
        with self._lock:
            if self._value is None or self._value[0] != os.getpid():
                self._value = (os.getpid(), self._build())
            return self._value[1]


_client: PerProcess[redis.Redis | None] = PerProcess(
    lambda: redis.Redis.from_url(settings.REDIS_URL) if settings.REDIS_URL else None
)


def client() -> redis.Redis | None:
    return _client.get()


def prefix() -> str:
    """The prefix of the runtime's Redis keys and channels: one per
    database, so deployments (or test runs) sharing a Redis server never
    hear each other. Pub/sub ignores Redis database numbers."""
    conf = connections[DEFAULT_DB_ALIAS].settings_dict
    return _prefix_for(str(conf.get("NAME")), str(conf.get("HOST")), str(conf.get("PORT")))


@functools.lru_cache(maxsize=8)
def _prefix_for(name: str, host: str, port: str) -> str:
    digest = hashlib.sha256(f"{name}|{host}|{port}".encode()).hexdigest()[:10]
    return f"foundry:{digest}:actors:"
