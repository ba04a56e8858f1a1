"""Leases: at most one worker drains an instance's mailbox at a time.

Promises: taking a lease is one conditional UPDATE, so two workers can
never both hold a live lease. A worker that lost its lease (paused too long, then
woke up) cannot overwrite its successor's history: the step log is unique
per (command, step index), so only one of them records a step (with that
step's database writes), and the command's outcome is written by one
UPDATE that requires the lease owner and a running command. The loser gets
``LeaseLost`` and stops.

Limits: a lease expires ``FOUNDRY_ACTOR_LEASE_SECONDS`` after its last
renewal. A process-wide heartbeat thread renews the leases of commands in
progress, so a long step keeps its lease while its process lives; a killed
process stops renewing and its instances are taken over after expiry.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from foundry.actors.errors import LeaseLost
from foundry.actors.sql import (
    ACQUIRE,
    COMMANDS,
    INSTANCES,
    LEASE_IS_LIVE,
    OPEN,
    db_datetime,
    execute,
    fetch_one,
)

logger = logging.getLogger(__name__)


_HOST = socket.gethostname()


def lease_seconds() -> float:
    return float(settings.FOUNDRY_ACTOR_LEASE_SECONDS)


class Lease:
    def __init__(self, instance_id: int) -> None:
        self.instance_id = instance_id
        # Unique per drain, not per process: threads of one process (the
        # embedded worker) must not share a lease.
        self.owner = f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.lost = False

    def until(self) -> Any:
        """The expiry that taking or renewing this lease now writes."""
        return db_datetime(timezone.now() + timedelta(seconds=lease_seconds()))

    def acquire(self) -> bool:
        """Take the lease if it is free or expired and the mailbox's head
        may run (an empty doorbell then writes nothing)."""
        now = db_datetime(timezone.now())
        return execute(
            ACQUIRE, [self.owner, self.until(), self.instance_id, now, self.instance_id, now]
        ) == 1

    def held_elsewhere(self) -> bool:
        """Whether another drain holds a live lease on the instance."""
        live = fetch_one(LEASE_IS_LIVE, [self.instance_id, db_datetime(timezone.now())])
        return live is not None

    def renew(self) -> bool:
        return execute(
            f"UPDATE {INSTANCES} SET lease_expires_at = %s WHERE id = %s AND lease_owner = %s",
            [self.until(), self.instance_id, self.owner],
        ) == 1

    def fence(self) -> None:
        """Renew inside the caller's transaction, or raise ``LeaseLost``."""
        if self.lost or not self.renew():
            self.lost = True
            raise LeaseLost(f"lease on actor instance {self.instance_id} lost by {self.owner}")

    def check(self) -> None:
        """Raise ``LeaseLost`` if the heartbeat found the lease taken."""
        if self.lost:
            raise LeaseLost(f"lease on actor instance {self.instance_id} lost by {self.owner}")

    def release(self) -> None:
        execute(
            f"UPDATE {INSTANCES} SET lease_owner = '', lease_expires_at = NULL "
            "WHERE id = %s AND lease_owner = %s",
            [self.instance_id, self.owner],
        )

    def release_if_idle(self) -> bool:
        """Let go only if the mailbox has no open command, in one statement:
        the common end of a drain costs one round trip."""
        return execute(
            f"UPDATE {INSTANCES} SET lease_owner = '', lease_expires_at = NULL "
            "WHERE id = %s AND lease_owner = %s AND NOT EXISTS ("
            f"SELECT 1 FROM {COMMANDS} WHERE instance_id = %s AND status IN {OPEN})",
            [self.instance_id, self.owner, self.instance_id],
        ) == 1


class _Heartbeat:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._leases: dict[str, Lease] = {}
        self._thread: threading.Thread | None = None
        self._pid = 0

    def add(self, lease: Lease) -> None:
        with self._lock:
            self._leases[lease.owner] = lease
            # A forked worker child inherits the object but not the thread.
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="foundry-lease-heartbeat", daemon=True
                )
                self._thread.start()

    def remove(self, lease: Lease) -> None:
        with self._lock:
            self._leases.pop(lease.owner, None)

    def _run(self) -> None:
        while True:
            threading.Event().wait(lease_seconds() / 3)
            with self._lock:
                leases = list(self._leases.values())
            for lease in leases:
                try:
                    if not lease.renew():
                        lease.lost = True
                except Exception:
                    # The next fence in the command's own thread decides;
                    # a failed renewal here is only logged.
                    logger.exception("renewing lease %s failed", lease.owner)
                    close_old_connections()


_heartbeat = _Heartbeat()


@contextmanager
def kept_alive(lease: Lease) -> Iterator[Lease]:
    _heartbeat.add(lease)
    try:
        yield lease
    finally:
        _heartbeat.remove(lease)
