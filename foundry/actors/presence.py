"""Worker presence: which worker processes consume which actor queues.

Promises: a worker process (``celery worker`` through the ``worker_ready``
signal, or the embedded worker of ``run_embedded``) writes its row before it
reports ready, renews ``last_seen_at`` every
``FOUNDRY_WORKER_PRESENCE_SECONDS`` from a thread of its own, and deletes
the row on a warm shutdown. ``require_worker`` answers "does a live worker
consume this actor type's queue?" from that table, so it works across
processes and brokers alike (Celery's broadcast cannot reach the embedded
worker of another process). Nothing here runs on the command path: the
cost is one UPDATE per worker process per period.

Limits: a killed worker's row stays live for up to ``STALE_PERIODS``
periods after its last renewal, so a command sent in that window waits
for its timeout. Presence says a process consumes the queue, not that it
has a free slot. Rows of long-dead processes are deleted when a worker
starts.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.management.base import CommandError
from django.db import close_old_connections
from django.utils import timezone

from foundry.actors.models import WorkerPresence
from foundry.actors.registry import ActorType

logger = logging.getLogger(__name__)

# A row is live while renewed within this many periods: one late renewal
# (a busy database, a GC pause) must not make a worker look gone.
STALE_PERIODS = 3
# Rows older than this are from processes long gone; a starting worker
# deletes them so the table stays the size of the fleet.
FORGET_AFTER = timedelta(days=1)
# How often require_worker looks again while it waits for a worker that
# is starting.
_POLL_SECONDS = 0.25


def presence_seconds() -> float:
    return float(settings.FOUNDRY_WORKER_PRESENCE_SECONDS)


def stale_after() -> timedelta:
    return timedelta(seconds=presence_seconds() * STALE_PERIODS)


class PresenceRecorder:
    """This process's row, renewed from a daemon thread until ``stop``."""

    def __init__(self, hostname: str, queues: Iterable[str]) -> None:
        self.hostname = hostname
        self.pid = os.getpid()
        self.queues = sorted(set(queues))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> PresenceRecorder:
        # Written before the worker reports ready, so a command started
        # right after "ready." finds it. A database that is down now must
        # not stop the worker: the thread writes the row once it is back.
        try:
            self._write(first=True)
        except Exception:
            logger.exception("recording the presence of %s failed; retrying", self.hostname)
            close_old_connections()
        self._thread = threading.Thread(
            target=self._renew_forever, name="foundry-worker-presence", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Delete the row: a worker that shuts down warm is gone at once."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            # A renewal in flight would otherwise write the row back.
            self._thread.join(timeout=presence_seconds() + 5)
        try:
            WorkerPresence.objects.filter(hostname=self.hostname, pid=self.pid).delete()
        finally:
            close_old_connections()

    def _write(self, *, first: bool = False) -> None:
        now = timezone.now()
        # One autocommit statement each: on SQLite a single statement waits
        # for the write lock, where a read-then-write transaction would not.
        renewed = WorkerPresence.objects.filter(hostname=self.hostname, pid=self.pid).update(
            last_seen_at=now, queues=self.queues
        )
        if not renewed:
            WorkerPresence.objects.create(
                hostname=self.hostname, pid=self.pid, queues=self.queues,
                started_at=now, last_seen_at=now,
            )
        if first:
            WorkerPresence.objects.filter(last_seen_at__lt=now - FORGET_AFTER).delete()

    def _renew_forever(self) -> None:
        while not self._stop.wait(presence_seconds()):
            try:
                # Drops a connection past its age or broken since the last
                # renewal; this thread keeps its own connection.
                close_old_connections()
                self._write()
            except Exception:
                logger.exception(
                    "renewing the presence of %s (pid %s) failed; trying again in %ss",
                    self.hostname, self.pid, presence_seconds(),
                )
                close_old_connections()


_lock = threading.Lock()
_recorder: PresenceRecorder | None = None


def record_presence(hostname: str, queues: Iterable[str]) -> PresenceRecorder:
    """Start recording this process as a worker consuming ``queues``."""
    global _recorder
    with _lock:
        if _recorder is not None and _recorder.pid == os.getpid():
            _recorder.stop()
        _recorder = PresenceRecorder(hostname, queues).start()
        return _recorder


def forget_presence() -> None:
    """Delete this process's row (a warm shutdown)."""
    global _recorder
    with _lock:
        if _recorder is not None and _recorder.pid == os.getpid():
            _recorder.stop()
        _recorder = None


def live_workers() -> list[WorkerPresence]:
    since = timezone.now() - stale_after()
    return list(WorkerPresence.objects.filter(last_seen_at__gte=since).order_by("hostname", "pid"))


def queues_without_worker(queues: Iterable[str]) -> list[str]:
    """Those of ``queues`` no live worker consumes, in the order given."""
    served = {queue for worker in live_workers() for queue in worker.queues}
    return [queue for queue in queues if queue not in served]


def require_worker(*actor_types: ActorType, within: float = 5.0) -> None:
    """Return once a live worker consumes each actor type's queue; after
    ``within`` seconds without one, raise ``CommandError`` naming the
    command that starts one.

    For management commands that send to an actor and wait: without a
    worker they would wait silently for their whole timeout."""
    queues = [t.queue for t in actor_types]
    deadline = time.monotonic() + within
    while missing := queues_without_worker(queues):
        if time.monotonic() >= deadline:
            raise CommandError(_no_worker_message(missing))
        time.sleep(_POLL_SECONDS)


def _no_worker_message(missing: list[str]) -> str:
    seen = f"no worker process has reported it in the last {stale_after().total_seconds():g}s"
    if settings.FOUNDRY_WORKER_MODE == "inprocess":
        return (
            f"no worker consumes {', '.join(missing)} ({seen}). On the embedded default "
            "(memory:// broker) the worker runs inside the web process: start it with "
            "`scripts/run` (python manage.py run_embedded) and run this command again "
            "from another terminal."
        )
    return (
        f"no worker consumes {', '.join(missing)} ({seen}). Start one: "
        f"`celery -A foundry worker -Q {','.join([*missing, 'maintenance'])}`"
    )
