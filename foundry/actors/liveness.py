"""Leases: which drain holds an instance, and whether that holder lives.

Promise: a lease is live exactly as long as the drain that took it can
still write. Not a timeout: a worker paused by SIGSTOP, or stuck in a long
C call that starves every other thread of the interpreter, keeps its
instances, so no second execution starts beside it and no command is
declared abandoned while its worker lives. A worker that dies loses its
leases at once.

- PostgreSQL: the lease is a session-level advisory lock on the instance,
  held by the drain's database connection. The server releases it when the
  session ends (the process died, or its host vanished: TCP keepalive, set
  from ``FOUNDRY_ACTOR_LEASE_SECONDS``). Taking a lease is
  ``pg_try_advisory_lock``, inside the statement that claims the head.
- SQLite (one machine by nature): the lease owner names host, process id and
  process start time; a lease whose process no longer exists (or is a
  zombie, or is another process with a reused id) is dead.

``lease_owner`` in the instance row says who holds the lease, for the
inspector and as the fence: every transition that commits on behalf of a
drain (step rows with their domain writes, suspends, outcomes) requires
``lease_owner`` to still name it. An operator who releases a stuck
worker's lease (``operator.release_lease``) is therefore safe: whatever that
worker commits afterwards is refused.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from typing import Any

import psutil

from foundry.actors.errors import LeaseLost
from foundry.actors.sql import db, on_postgresql

logger = logging.getLogger(__name__)

_HOST = socket.gethostname()
# Advisory lock keys of the runtime: this tag in the high byte, the instance
# id below (ids up to 2**56), so other users of advisory locks on the same
# database do not collide with ours.
LOCK_NAMESPACE = 0x46 << 56


def lock_key(instance_id: int) -> int:
    return LOCK_NAMESPACE | instance_id


def _process_start(pid: int) -> str:
    return f"{psutil.Process(pid).create_time():.2f}"


class _ProcessLeases:
    """The leases this process holds now: a lease that names this process
    but is not here was left by a drain that ended without letting go."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: set[str] = set()
        self._pid = 0
        self._start = ""

    def identity(self) -> str:
        pid = os.getpid()
        if pid != self._pid:  # a forked worker child is a new process
            self._pid, self._start = pid, _process_start(pid)
            with self._lock:
                self._owners = set()
        return f"{_HOST}:{pid}:{self._start}"

    def add(self, owner: str) -> None:
        with self._lock:
            self._owners.add(owner)

    def remove(self, owner: str) -> None:
        with self._lock:
            self._owners.discard(owner)

    def holds(self, owner: str) -> bool:
        with self._lock:
            return owner in self._owners


_held = _ProcessLeases()


class Lease:
    """One drain's hold on one instance."""

    def __init__(self, instance_id: int) -> None:
        self.instance_id = instance_id
        self.lock_key = lock_key(instance_id)
        # Unique per drain, not per process: threads of one process (the
        # embedded worker) must not share a lease.
        self.owner = f"{_held.identity()}:{uuid.uuid4().hex[:12]}"
        self.held = False
        # A fenced write was refused: another drain (or an operator) took
        # the instance. This drain still lets go of what it holds (its
        # advisory lock; a ``lease_owner`` that still names it).
        self.revoked = False
        # PostgreSQL: the session that holds the advisory lock. A drain whose
        # connection was replaced (Django reconnects after an error) no
        # longer holds it and must stop.
        self._session: Any = None

    def taken(self) -> None:
        self.held = True
        _held.add(self.owner)
        if on_postgresql():
            self._session = db().connection

    def let_go(self) -> None:
        self.held = False
        _held.remove(self.owner)
        self._session = None

    def check(self) -> None:
        """Raise ``LeaseLost`` unless this drain may still write."""
        if not self.held or self.revoked:
            raise LeaseLost(f"lease on actor instance {self.instance_id} lost by {self.owner}")
        if on_postgresql() and not self._session_alive():
            # The session (and its advisory lock) is gone: nothing to let go.
            self.let_go()
            raise LeaseLost(
                f"the database session that held actor instance {self.instance_id} for "
                f"{self.owner} was lost"
            )

    def _session_alive(self) -> bool:
        session = db().connection
        return session is self._session and not (session.closed or session.broken)

    def lost(self) -> LeaseLost:
        """A fenced write was refused: say so, and write nothing more."""
        self.revoked = True
        return LeaseLost(
            f"lease on actor instance {self.instance_id} is no longer held by {self.owner}"
        )


def holder_alive(owner: str) -> bool:
    """SQLite: whether the process named by a lease owner still runs."""
    try:
        host, pid_text, start, _ = owner.split(":")
        pid = int(pid_text)
    except ValueError:
        logger.error("lease owner %r is not host:pid:start:drain; treating it as dead", owner)
        return False
    if host != _HOST:
        # SQLite lives on one machine; a lease from another host can only be
        # from a copied database file. Never steal what cannot be checked.
        return True
    if pid == os.getpid():
        return _held.holds(owner)
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return f"{process.create_time():.2f}" == start
    except psutil.NoSuchProcess:
        return False
