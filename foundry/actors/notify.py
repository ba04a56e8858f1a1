"""Waking a waiting sender when its command finishes.

Promises: a finished command publishes its id after its row is committed;
a waiter subscribes, then reads the row, then sleeps until a notification
or ``FOUNDRY_ACTOR_WAIT_RECHECK_SECONDS``, so a notification sent between
the read and the sleep is never needed for correctness: the re-check is a
safety net, notifications are the normal path.

Backends: Redis pub/sub when ``REDIS_URL`` is set (waiters and workers in
different processes); otherwise a process-local registry, which serves the
embedded run where the worker is a thread of the web process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from django.conf import settings

_CHANNEL_PREFIX = "foundry:actors:done:"


class _LocalSubscription:
    def __init__(self) -> None:
        self.event = threading.Event()

    def wait(self, seconds: float) -> None:
        self.event.wait(seconds)
        self.event.clear()


class LocalNotifier:
    """Process-local: only waiters in the worker's own process wake up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: dict[int, list[_LocalSubscription]] = {}

    def publish(self, command_id: int) -> None:
        with self._lock:
            subscriptions = list(self._subscriptions.get(command_id, ()))
        for subscription in subscriptions:
            subscription.event.set()

    @contextmanager
    def subscribe(self, command_id: int) -> Iterator[_LocalSubscription]:
        subscription = _LocalSubscription()
        with self._lock:
            self._subscriptions.setdefault(command_id, []).append(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                remaining = self._subscriptions.get(command_id, [])
                remaining.remove(subscription)
                if not remaining:
                    self._subscriptions.pop(command_id, None)


class _RedisSubscription:
    def __init__(self, pubsub: redis.client.PubSub) -> None:
        self.pubsub = pubsub

    def wait(self, seconds: float) -> None:
        self.pubsub.get_message(ignore_subscribe_messages=True, timeout=seconds)


class RedisNotifier:
    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)

    def publish(self, command_id: int) -> None:
        self.client.publish(f"{_CHANNEL_PREFIX}{command_id}", b"1")

    @contextmanager
    def subscribe(self, command_id: int) -> Iterator[_RedisSubscription]:
        pubsub = self.client.pubsub()
        pubsub.subscribe(f"{_CHANNEL_PREFIX}{command_id}")
        try:
            yield _RedisSubscription(pubsub)
        finally:
            pubsub.close()


_lock = threading.Lock()
_notifier: tuple[int, LocalNotifier | RedisNotifier] | None = None


def get_notifier() -> LocalNotifier | RedisNotifier:
    """One notifier per process; rebuilt after a fork (prefork workers)."""
    global _notifier
    with _lock:
        if _notifier is None or _notifier[0] != os.getpid():
            url = settings.REDIS_URL
            _notifier = (os.getpid(), RedisNotifier(url) if url else LocalNotifier())
        return _notifier[1]
