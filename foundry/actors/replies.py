"""Waking a waiting sender when its command finishes.

Promises: a finished command delivers its outcome (status, result, error)
after its row is committed: into the reply box its blocked sender opened
*before* sending (so nothing can finish unheard), or else on the command's
own channel, for whoever waits on a ``CommandRef``. A waiter that hears nothing for
``FOUNDRY_ACTOR_WAIT_RECHECK_SECONDS`` reads the row itself, so a lost
message delays a waiter but never strands it: notifications are the normal
path, the re-read is the safety net.

Backends: Redis when ``REDIS_URL`` is set (waiters and workers in different
processes): a reply box is a list the sender pops with BLPOP on a pooled
connection (a pub/sub subscription costs a round trip, and redis-py drops
its connection on close), command channels are pub/sub. Otherwise a
process-local registry, which serves the embedded run where the worker is a
thread of the web process.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import redis

from foundry.actors import redisclient


def command_channel(command_id: int) -> str:
    return f"{redisclient.prefix()}command:{command_id}"


def reply_channel(token: str) -> str:
    return f"{redisclient.prefix()}reply:{token}"


# A reply nobody popped (its sender timed out) is dropped after this long.
REPLY_TTL_SECONDS = 3600


@dataclass(frozen=True)
class Delivery:
    """A finished command's outcome, addressed to whoever waits for it: its
    blocked sender's reply box (``box``, a key) and, when someone watches
    the command, its channel. Empty strings where there is nobody."""

    box: str
    channel: str
    message: dict[str, Any]


def outcome_delivery(
    *, reply_to: str, command_id: int, outcome: dict[str, Any], watched: bool
) -> Delivery | None:
    if not reply_to and not watched:
        return None
    return Delivery(
        box=reply_channel(reply_to) if reply_to else "",
        channel=command_channel(command_id) if watched else "",
        message=outcome,
    )


# Delivering in one command: a script call is one round trip where a
# redis-py pipeline also costs building the pipeline (and, with a script in
# it, a SCRIPT EXISTS round trip). KEYS[1]: the reply box, or ''; ARGV: the
# message, the box's expiry, the channel or ''. ``doorbell`` appends its
# clear to this script (KEYS[2]) to send both in one round trip.
DELIVER_LUA = """
if KEYS[1] ~= '' then
  redis.call('RPUSH', KEYS[1], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[1]) end
"""


def script_arguments(delivery: Delivery) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of ``DELIVER_LUA`` for a delivery."""
    return [delivery.box], [json.dumps(delivery.message), REPLY_TTL_SECONDS, delivery.channel]


class _LocalSubscription:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.message: dict[str, Any] | None = None

    def wait(self, seconds: float) -> dict[str, Any] | None:
        self.event.wait(seconds)
        self.event.clear()
        return self.message


class LocalNotifier:
    """Process-local: only waiters in the worker's own process wake up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: dict[str, list[_LocalSubscription]] = {}

    def publish(self, channel: str, message: dict[str, Any]) -> None:
        with self._lock:
            subscriptions = list(self._subscriptions.get(channel, ()))
        for subscription in subscriptions:
            subscription.message = message
            subscription.event.set()

    def deliver_reply(self, token: str, message: dict[str, Any]) -> None:
        self.publish(reply_channel(token), message)

    def deliver(self, delivery: Delivery) -> None:
        for channel in (delivery.box, delivery.channel):
            if channel:
                self.publish(channel, delivery.message)

    def await_reply(self, token: str) -> AbstractContextManager[_LocalSubscription]:
        return self.subscribe(reply_channel(token))

    @contextmanager
    def subscribe(self, channel: str) -> Iterator[_LocalSubscription]:
        subscription = _LocalSubscription()
        with self._lock:
            self._subscriptions.setdefault(channel, []).append(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                remaining = self._subscriptions.get(channel, [])
                remaining.remove(subscription)
                if not remaining:
                    self._subscriptions.pop(channel, None)


class _RedisSubscription:
    def __init__(self, pubsub: redis.client.PubSub) -> None:
        self.pubsub = pubsub

    def wait(self, seconds: float) -> dict[str, Any] | None:
        # The subscribe confirmation arrives as a message too: keep reading
        # until a publication or the time is up.
        ends = time.monotonic() + seconds
        while (left := ends - time.monotonic()) > 0:
            message = self.pubsub.get_message(timeout=left)
            if message is not None and message["type"] == "message":
                return dict(json.loads(message["data"]))
        return None


class _RedisReplyBox:
    def __init__(self, client: redis.Redis, key: str) -> None:
        self.client = client
        self.key = key

    def wait(self, seconds: float) -> dict[str, Any] | None:
        # BLPOP takes fractional seconds; 0 would mean "forever".
        popped = self.client.blpop([self.key], timeout=max(seconds, 0.001))
        return None if popped is None else dict(json.loads(popped[1]))


class RedisNotifier:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._deliver = client.register_script(DELIVER_LUA)

    def deliver_reply(self, token: str, message: dict[str, Any]) -> None:
        self.deliver(Delivery(box=reply_channel(token), channel="", message=message))

    def deliver(self, delivery: Delivery) -> None:
        keys, args = script_arguments(delivery)
        self._deliver(keys=keys, args=args)

    @contextmanager
    def await_reply(self, token: str) -> Iterator[_RedisReplyBox]:
        # Nothing to set up: the box is created by the delivery, and a
        # delivery before the first pop waits in it.
        yield _RedisReplyBox(self.client, reply_channel(token))

    def publish(self, channel: str, message: dict[str, Any]) -> None:
        self.client.publish(channel, json.dumps(message))

    @contextmanager
    def subscribe(self, channel: str) -> Iterator[_RedisSubscription]:
        pubsub = self.client.pubsub()  # type: ignore[no-untyped-call]  # redis-py stub gap
        pubsub.subscribe(channel)
        try:
            yield _RedisSubscription(pubsub)
        finally:
            pubsub.close()


def _build_notifier() -> LocalNotifier | RedisNotifier:
    client = redisclient.client()
    return RedisNotifier(client) if client is not None else LocalNotifier()


_notifier = redisclient.PerProcess(_build_notifier)


def get_notifier() -> LocalNotifier | RedisNotifier:
    return _notifier.get()


def deliver(delivery: Delivery) -> None:
    get_notifier().deliver(delivery)
