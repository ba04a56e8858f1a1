"""The doorbell: telling some worker that an instance's mailbox has work.

A doorbell is a Celery message ``foundry.actors.drain(instance_id, type)``
on the actor type's queue. It carries no command: the mailbox table does.
So a doorbell may be lost, duplicated or coalesced without losing or
repeating work; what it costs is latency, and a message per ring.

The protocol, all of it here:

- **Counting.** A sender counts itself at the instance's doorbell (one
  atomic Redis script) and rings only if it is the first since the count
  was last cleared (``ring_once``). The others rely on a read: every drain
  clears the count before it stops and, when it finds more than one, reads
  the mailbox again (``clear``); their commands were committed before they
  counted, so that read sees them. A busy instance gets one doorbell per
  drain, not one per send.
- **Pending.** A count in place means a doorbell is on its way (queued in
  the broker, or its drain is running). The sweeper rings only instances
  with none (``pending``), unless the drain that held the instance died.
  The count expires after ``PENDING_SECONDS``: a doorbell lost before its
  drain took the lease stops suppressing others then.
- **Blocked senders ring directly** (``ring``): the instance is most
  likely idle, and counting would add a round trip to the path they wait on.
- **Fire-and-forget sends outside handlers ring from a thread** of the
  sending process (``ring_later``): the send returns once its insert has
  committed, and the thread counts and rings while the next insert waits on
  its commit. What is still queued at exit is rung then.
- **Failures never propagate.** Ringing happens after a commit; a broker or
  Redis error there is logged and left to the sweeper (``ring_safely``).

Backends for the counts: Redis when ``REDIS_URL`` is set (any number of
processes), else a process-local table (the embedded run, where the worker
is a thread of the web process).
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import redis
from celery import current_app

from foundry.actors import redisclient
from foundry.actors.replies import DELIVER_LUA, Delivery, deliver, script_arguments

logger = logging.getLogger(__name__)

DRAIN_TASK = "foundry.actors.drain"
# How long a count keeps others from ringing when no drain clears it (its
# doorbell was lost with a worker before the drain took the lease).
PENDING_SECONDS = 15
# At most this many instances share one doorbell rung from a batch of sends.
INSTANCES_PER_DOORBELL = 8
# What a drain that found the lease held adds to the count, so that the
# holder's clear sees "someone relies on a re-read" (a count above one).
HAND_BACK = 2


def queue_for(type_name: str) -> str:
    """One Celery queue per actor type, so workers can be sized per type."""
    return f"actors.{type_name}"


def ring(
    instance_id: int | list[int], type_name: str, *, countdown: float | None = None
) -> None:
    """One doorbell, for one instance or several of one type (drained one
    after the other by the worker that takes it)."""
    current_app.send_task(
        DRAIN_TASK, (instance_id, type_name), queue=queue_for(type_name), countdown=countdown,
        ignore_result=True,
    )


def ring_once(instance_id: int, type_name: str) -> bool:
    """Count this sender; ring if it is the first since the last clear.
    Returns whether it rang."""
    if counts().add(instance_id) != 1:
        return False
    _ring_counted(instance_id, type_name)
    return True


def ring_once_many(doorbells: list[tuple[int, str]]) -> None:
    """``ring_once`` for many instances: one count each (several sends to
    one instance count once: the drain that reads their mailbox reads them
    all), counted in one round trip, then the firsts ring."""
    unique = list(dict.fromkeys(doorbells))
    added = counts().add_many([instance_id for instance_id, _ in unique])
    firsts: dict[str, list[int]] = {}
    for (instance_id, type_name), count in zip(unique, added, strict=True):
        if count == 1:
            firsts.setdefault(type_name, []).append(instance_id)
    # The firsts of one type share doorbells, a few instances each: fewer
    # messages to publish and consume, and still one for each worker.
    for type_name, instance_ids in firsts.items():
        for i in range(0, len(instance_ids), INSTANCES_PER_DOORBELL):
            chunk = instance_ids[i:i + INSTANCES_PER_DOORBELL]
            ring_safely(
                partial(_ring_counted, chunk, type_name),
                f"doorbell of {type_name} instances {chunk}",
            )


def _ring_counted(instance_ids: int | list[int], type_name: str) -> None:
    """Ring for counts this process just started. If the ring fails, no
    doorbell is on its way after all: drop the counts, so that the sweeper
    sees the instances unattended at its next period."""
    try:
        ring(instance_ids, type_name)
    except Exception:
        for instance_id in instance_ids if isinstance(instance_ids, list) else [instance_ids]:
            ring_safely(
                partial(counts().clear, instance_id), f"count of instance {instance_id}"
            )
        raise


def ring_safely(fn: Callable[[], Any], what: str) -> Any:
    """Run an after-commit notification; a failure is logged, not raised:
    the commit it follows stands, and the sweeper rings what was missed.
    Returns what ``fn`` returned, None when it failed."""
    try:
        return fn()
    except Exception:
        logger.exception("%s failed after commit; the sweeper will ring it", what)
        return None


def clear(instance_id: int, delivery: Delivery | None = None) -> int:
    """The count before clearing it: above one, senders rely on a re-read.
    A finished command's ``delivery`` goes out first, in the same Redis
    round trip (the drain that ends with that command)."""
    return counts().clear(instance_id, delivery)


def hand_back(instance_id: int) -> None:
    counts().add(instance_id, by=HAND_BACK)


def pending(instance_ids: list[int]) -> set[int]:
    """Which of these instances have a doorbell on its way."""
    return counts().present(instance_ids)


def ring_pending(instance_id: int, type_name: str) -> None:
    """Ring and count it as pending, whatever the count was: the sweeper's
    ring for an instance whose drain died holding it."""
    counts().set_pending(instance_id)
    ring(instance_id, type_name)


# --- the counts ------------------------------------------------------------------

class LocalCounts:
    """Process-local: only senders in the worker's own process count."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[int, tuple[int, float]] = {}

    def add(self, instance_id: int, by: int = 1) -> int:
        now = time.monotonic()
        with self._lock:
            count, expires = self._counts.get(instance_id, (0, 0.0))
            if expires <= now:
                count, expires = 0, now + PENDING_SECONDS
            self._counts[instance_id] = (count + by, expires)
            return count + by

    def add_many(self, instance_ids: list[int], by: int = 1) -> list[int]:
        return [self.add(i, by) for i in instance_ids]

    def set_pending(self, instance_id: int) -> None:
        with self._lock:
            self._counts[instance_id] = (1, time.monotonic() + PENDING_SECONDS)

    def clear(self, instance_id: int, delivery: Delivery | None = None) -> int:
        if delivery is not None:
            deliver(delivery)
        with self._lock:
            count, expires = self._counts.pop(instance_id, (0, 0.0))
            return count if expires > time.monotonic() else 0

    def present(self, instance_ids: list[int]) -> set[int]:
        now = time.monotonic()
        with self._lock:
            return {i for i in instance_ids if self._counts.get(i, (0, 0.0))[1] > now}


def _key(instance_id: int) -> str:
    return f"{redisclient.prefix()}doorbell:{instance_id}"


# Atomic on the server, one command each (a script call costs one round
# trip; a redis-py pipeline costs building one, and a SCRIPT EXISTS round
# trip when it holds a script): add to counts, starting the expiry of those
# this created; deliver a finished command's outcome, then read a count and
# delete it (GETDEL: Redis 6.2 or later).
_ADD_LUA = """
local counts = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCRBY', key, ARGV[1])
  if n == tonumber(ARGV[1]) then redis.call('EXPIRE', key, ARGV[2]) end
  counts[i] = n
end
return counts
"""
_DELIVER_AND_CLEAR_LUA = DELIVER_LUA + "return redis.call('GETDEL', KEYS[2])"


class RedisCounts:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._add = client.register_script(_ADD_LUA)
        self._deliver_and_clear = client.register_script(_DELIVER_AND_CLEAR_LUA)

    def add(self, instance_id: int, by: int = 1) -> int:
        return self.add_many([instance_id], by=by)[0]

    def add_many(self, instance_ids: list[int], by: int = 1) -> list[int]:
        keys = [_key(instance_id) for instance_id in instance_ids]
        return [int(n) for n in self._add(keys=keys, args=[by, PENDING_SECONDS])]

    def set_pending(self, instance_id: int) -> None:
        self.client.set(_key(instance_id), 1, ex=PENDING_SECONDS)

    def clear(self, instance_id: int, delivery: Delivery | None = None) -> int:
        if delivery is None:
            return int(self.client.getdel(_key(instance_id)) or 0)
        keys, args = script_arguments(delivery)
        return int(self._deliver_and_clear(keys=[*keys, _key(instance_id)], args=args) or 0)

    def present(self, instance_ids: list[int]) -> set[int]:
        if not instance_ids:
            return set()
        pipe = self.client.pipeline(transaction=False)
        for instance_id in instance_ids:
            pipe.exists(_key(instance_id))
        return {i for i, found in zip(instance_ids, pipe.execute(), strict=True) if found}


def _build_counts() -> LocalCounts | RedisCounts:
    client = redisclient.client()
    return RedisCounts(client) if client is not None else LocalCounts()


_counts = redisclient.PerProcess(_build_counts)


def counts() -> LocalCounts | RedisCounts:
    return _counts.get()


# --- ringing from a thread ----------------------------------------------------------

# How long a process that exits waits for its doorbell thread.
EXIT_WAIT_SECONDS = 10
# Doorbells the thread counts in one Redis round trip, at most.
MAX_BATCH = 500

class _Ringer:
    """Rings the doorbells of fire-and-forget sends made outside handlers,
    in order, from a thread of the sending process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[int, str]] = queue.Queue()
        self._pid = 0

    def put(self, instance_id: int, type_name: str) -> None:
        with self._lock:
            # A forked child (prefork worker) inherits the object, not the thread.
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._queue = queue.Queue()
                threading.Thread(
                    target=self._run, args=(self._queue,), name="foundry-doorbells", daemon=True
                ).start()
                atexit.register(self._finish, self._queue)
        self._queue.put((instance_id, type_name))

    def _run(self, pending: queue.Queue[tuple[int, str]]) -> None:
        while True:
            # Whatever queued up while the last batch rang goes as one batch:
            # its counts in one Redis round trip.
            batch = [pending.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(pending.get_nowait())
                except queue.Empty:
                    break
            try:
                ring_safely(partial(ring_once_many, batch), f"{len(batch)} doorbells")
            finally:
                for _ in batch:
                    pending.task_done()

    def _finish(self, pending: queue.Queue[tuple[int, str]]) -> None:
        """At exit: let the thread ring what is queued (a short wait; what
        is left after it is the sweeper's)."""
        deadline = time.monotonic() + EXIT_WAIT_SECONDS
        while pending.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)


_ringer = _Ringer()


def ring_later(instance_id: int, type_name: str) -> None:
    _ringer.put(instance_id, type_name)
