"""Transactions that survive SQLite's "database is locked".

SQLite has one writer at a time. A deferred transaction that read before it
writes cannot wait for the lock (SQLite returns SQLITE_BUSY at once to avoid
a deadlock), so the runtime's transactions are retried from the start when
that happens. PostgreSQL errors are never retried here.

Retrying reruns the function: callers pass functions whose effects outside
the database are idempotent, which steps must be anyway (at-least-once).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, connection, transaction

T = TypeVar("T")

# About 30 s in all: as long as the connection's busy timeout.
_ATTEMPTS = 60


def _is_sqlite_lock(exc: OperationalError) -> bool:
    return connection.vendor == "sqlite" and "database is locked" in str(exc)


def atomic_with_retry(fn: Callable[[], T]) -> T:
    if connection.in_atomic_block:
        # Nested in a caller's transaction: only the outermost can retry.
        with transaction.atomic():
            return fn()
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return fn()
        except OperationalError as exc:
            if not _is_sqlite_lock(exc) or attempt == _ATTEMPTS:
                raise
            time.sleep(random.uniform(0.01, 0.03) * min(attempt, 20))
    raise AssertionError("unreachable")
