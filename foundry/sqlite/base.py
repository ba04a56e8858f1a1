"""SQLite with transactions that begin at their first write, IMMEDIATE.

Why: SQLite has one writer. A transaction begun DEFERRED (Django's
default) that reads before it writes gets "database is locked" at once, with
no waiting, when another connection committed since its read; the only cure
is to run the whole transaction again, which runs again whatever it did
outside the database (a step's GitHub calls). A transaction begun
IMMEDIATE waits for the write lock instead, but holds it from the start,
through any slow work the block does before writing.

So here ``atomic()`` begins nothing at first. Reads before the block's
first write run on their own, as in autocommit; the first statement that
is not a plain read issues ``BEGIN IMMEDIATE`` (waiting for the lock up to
the busy timeout), then replays the savepoints opened meanwhile. Work done
before the first write never holds the lock, and the lock is never refused.

The cost: reads before a block's first write are not isolated with its
writes. The actor runtime's single-writer rule (only an actor writes its
tables, one command at a time) makes that safe for actor steps; code that
must read and write atomically writes first (or uses a conditional UPDATE).
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any, cast

from django.db.backends.sqlite3 import base

# Statements that only read: they may run before the transaction begins.
_READ = re.compile(r"\s*(SELECT|PRAGMA|EXPLAIN)\b", re.IGNORECASE)
_SAVEPOINT = re.compile(r'\s*SAVEPOINT\s+"?([^"\s]+)"?\s*$', re.IGNORECASE)
_RELEASE = re.compile(r'\s*RELEASE\s+(?:SAVEPOINT\s+)?"?([^"\s]+)"?\s*$', re.IGNORECASE)
_ROLLBACK_TO = re.compile(r"\s*ROLLBACK\s+TO\s+", re.IGNORECASE)


class LazyBeginConnection(sqlite3.Connection):
    """The sqlite3 connection, carrying whether a transaction is due."""

    begin_due = False
    due_savepoints: list[str]


class LazyBeginCursor(base.SQLiteCursorWrapper):
    @property
    def _conn(self) -> LazyBeginConnection:
        return cast(LazyBeginConnection, self.connection)

    def execute(self, query: str, params: Any = None) -> Any:
        if self._conn.begin_due and self._defer(query):
            return self
        return super().execute(query, params)

    def executemany(self, query: str, param_list: Any) -> Any:
        if self._conn.begin_due:
            self._defer(query)
        return super().executemany(query, param_list)

    def _defer(self, query: str) -> bool:
        """Begin the due transaction unless ``query`` can wait; return
        whether it was taken care of without running it."""
        conn = self._conn
        if _READ.match(query):
            return False
        if match := _SAVEPOINT.match(query):
            conn.due_savepoints.append(match.group(1))
            return True
        if match := _RELEASE.match(query):
            name = match.group(1)
            if name in conn.due_savepoints:
                del conn.due_savepoints[conn.due_savepoints.index(name):]
            return True
        if _ROLLBACK_TO.match(query):
            return True  # nothing was written since the savepoint
        conn.begin_due = False
        super().execute("BEGIN IMMEDIATE")
        for name in conn.due_savepoints:
            super().execute(f'SAVEPOINT "{name}"')
        conn.due_savepoints = []
        return False


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        params["factory"] = LazyBeginConnection
        return params

    def create_cursor(self, name: str | None = None) -> Any:
        return self.connection.cursor(factory=LazyBeginCursor)

    def _start_transaction_under_autocommit(self) -> None:
        conn = cast(LazyBeginConnection, self.connection)
        conn.begin_due = True
        conn.due_savepoints = []

    def _end_due(self) -> None:
        if self.connection is not None:
            conn = cast(LazyBeginConnection, self.connection)
            conn.begin_due = False
            conn.due_savepoints = []

    def _commit(self) -> None:
        self._end_due()
        super()._commit()  # type: ignore[misc]  # private in django-stubs

    def _rollback(self) -> None:
        self._end_due()
        super()._rollback()  # type: ignore[misc]
