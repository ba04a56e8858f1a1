"""Transactions that survive SQLite's "database is locked".

SQLite has one writer at a time. A deferred transaction that read before it
writes cannot wait for the lock: SQLite answers SQLITE_BUSY at once when
another connection committed since the read (a worker's lease heartbeat is
enough). So the runtime runs its transactions deferred first (a step that
talks to GitHub for a second must not hold the write lock meanwhile) and,
when SQLite reports a lock, runs them again with ``BEGIN IMMEDIATE``, which
takes the write lock up front and waits for it: the retry cannot be starved.
PostgreSQL errors are never retried here.

Retrying reruns the function: callers pass functions whose effects outside
the database are idempotent, which steps must be anyway (at-least-once).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.db import OperationalError, connection, transaction

T = TypeVar("T")

# A few, in case another process holds the lock past the busy timeout.
_IMMEDIATE_ATTEMPTS = 3


def _is_sqlite_lock(exc: OperationalError) -> bool:
    return connection.vendor == "sqlite" and "database is locked" in str(exc)


@contextmanager
def _immediate() -> Iterator[None]:
    previous = connection.transaction_mode  # type: ignore[attr-defined]  # sqlite backend
    connection.transaction_mode = "IMMEDIATE"  # type: ignore[attr-defined]
    try:
        yield
    finally:
        connection.transaction_mode = previous  # type: ignore[attr-defined]


def atomic_with_retry(fn: Callable[[], T]) -> T:
    if connection.in_atomic_block:
        # Nested in a caller's transaction: only the outermost can retry.
        with transaction.atomic():
            return fn()
    try:
        with transaction.atomic():
            return fn()
    except OperationalError as exc:
        if not _is_sqlite_lock(exc):
            raise
    for attempt in range(1, _IMMEDIATE_ATTEMPTS + 1):
        try:
            with _immediate(), transaction.atomic():
                return fn()
        except OperationalError as exc:
            if not _is_sqlite_lock(exc) or attempt == _IMMEDIATE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")
