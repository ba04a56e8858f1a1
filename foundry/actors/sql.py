"""Running the command loop's own statements, on PostgreSQL and SQLite.

Building these statements through the ORM (model instances, query
compilation) cost more than their round trip, so they are plain SQL with
named parameters. On PostgreSQL they bypass Django's cursor wrapper (about
0.1 ms a statement here) and bind server-side, so each is prepared once per
connection; on SQLite they go through Django's cursor. Either way they run
on Django's connection, inside whatever transaction Django has open, and
raise Django's database exceptions.

Time: every time the runtime judges (a wait's deadline) or records comes
from the database's clock (``NOW``), never the worker's, so a worker whose
clock is off cannot misjudge a deadline another worker set.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.utils.dateparse import parse_datetime
from django.utils.timezone import make_aware

from foundry.actors.models import FINISHED_STATUSES, OPEN_STATUSES, ActorInstance, Command, Step

INSTANCES = ActorInstance._meta.db_table
COMMANDS = Command._meta.db_table
STEPS = Step._meta.db_table
# Status lists as SQL literals, from the same constants the ORM filters use.
OPEN = "(" + ", ".join(f"'{s.value}'" for s in OPEN_STATUSES) + ")"
FINISHED = "(" + ", ".join(f"'{s.value}'" for s in FINISHED_STATUSES) + ")"

Params = Sequence[Any] | dict[str, Any]


def db() -> Any:
    # One lookup of the default connection per statement: every attribute
    # read through ``django.db.connection`` repeats it.
    return connections[DEFAULT_DB_ALIAS]


@functools.cache
def on_postgresql() -> bool:
    return bool(connections[DEFAULT_DB_ALIAS].vendor == "postgresql")


# --- the database's clock ---------------------------------------------------
# SQLite stores Django's datetimes as ISO text in UTC; these produce the
# same shape, so comparisons between stored and computed times hold.

@functools.cache
def now_sql() -> str:
    if on_postgresql():
        return "statement_timestamp()"
    return "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now')"


@functools.cache
def now_plus_sql(seconds_param: str, sign: str = "+") -> str:
    """The database's clock plus (or minus) a parameter in seconds (pass
    its value through ``seconds``)."""
    if on_postgresql():
        return (
            f"(statement_timestamp() {sign} "
            f"make_interval(secs => CAST(%({seconds_param})s AS double precision)))"
        )
    return (
        f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now', "
        f"'{sign}' || %({seconds_param})s || ' seconds')"
    )


def seconds(value: float) -> float | str:
    """A number of seconds as ``now_plus_sql`` takes it (SQLite reads a
    date modifier, which must not be in exponent notation)."""
    value = max(0.0, float(value))
    return value if on_postgresql() else f"{value:.6f}"


# --- execution -----------------------------------------------------------------

# Column names per statement text: building them from cursor.description
# on every fetch cost more than the rest of the fetch.
_column_names: dict[str, tuple[str, ...]] = {}


def _run(sql: str, params: Params, *, fetch: str) -> Any:
    conn = db()
    if on_postgresql():
        conn.ensure_connection()
        with conn.wrap_database_errors, psycopg.Cursor(conn.connection) as cursor:
            if conn.execute_wrappers:
                # Django's execute_wrappers still see these statements (a
                # step counts the statements its function ran).
                def run(sql: str, params: Params, many: bool, context: Any) -> None:
                    cursor.execute(sql, params, prepare=True)

                executor: Any = run
                for wrapper in reversed(conn.execute_wrappers):
                    executor = functools.partial(wrapper, executor)
                executor(sql, params, False, {"connection": conn, "cursor": cursor})
            else:
                cursor.execute(sql, params, prepare=True)
            return _result(cursor, sql, fetch)
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        return _result(cursor, sql, fetch)


def _result(cursor: Any, sql: str, fetch: str) -> Any:
    if fetch == "count":
        return int(cursor.rowcount)
    rows = [cursor.fetchone()] if fetch == "one" else cursor.fetchall()
    if not rows or rows[0] is None:
        return None if fetch == "one" else []
    names = _column_names.get(sql)
    if names is None:
        names = _column_names[sql] = tuple(c[0] for c in cursor.description)
    dicts = [dict(zip(names, row, strict=True)) for row in rows]
    return dicts[0] if fetch == "one" else dicts


def execute(sql: str, params: Params) -> int:
    """Run a statement; return its row count."""
    return int(_run(sql, params, fetch="count"))


def fetch_one(sql: str, params: Params) -> dict[str, Any] | None:
    """Run a statement; return its first row by column name."""
    row: dict[str, Any] | None = _run(sql, params, fetch="one")
    return row


def fetch_all(sql: str, params: Params) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = _run(sql, params, fetch="all")
    return rows


def db_json(value: Any) -> str | None:
    """JSONField storage: SQL NULL for None, JSON text otherwise."""
    return None if value is None else json.dumps(value)


def from_db_datetime(value: Any) -> datetime | None:
    """A datetime as the database returned it (SQLite: naive or ISO text, in UTC)."""
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else parse_datetime(str(value))
    if parsed is None:
        raise ValueError(f"not a datetime from the database: {value!r}")
    return make_aware(parsed, UTC) if parsed.tzinfo is None else parsed


# --- commands from rows ----------------------------------------------------------

# (attribute, column, kind) of each Command field, in model order.
_COMMAND_FIELDS = [
    (
        f.attname, str(f.column),
        "json" if isinstance(f, models.JSONField)
        else "datetime" if isinstance(f, models.DateTimeField)
        else "bool" if isinstance(f, models.BooleanField)
        else "plain",
    )
    for f in Command._meta.concrete_fields
]
_COMMAND_COLUMNS = {column for _, column, _ in _COMMAND_FIELDS}
# What running a claimed command needs of it: what claims return.
RUN_COLUMNS = (
    "id", "instance_id", "name", "payload", "status", "attempts", "caused_by_id",
    "parent_waits", "reply_to", "watched", "waiting_for_id",
)


def _convert(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "json":
        return json.loads(value) if isinstance(value, str) else value
    if kind == "datetime":
        return from_db_datetime(value)
    if kind == "bool":
        return bool(value)
    return value


def command_from_row(row: dict[str, Any] | None) -> Command | None:
    """A Command from a ``RETURNING *`` row (JSON arrives as text, SQLite's
    datetimes as text); ``None`` when there is no row or its id is NULL.
    Extra columns become attributes."""
    if row is None or row.get("id") is None:
        return None
    present = [(attname, column, kind) for attname, column, kind in _COMMAND_FIELDS
               if column in row]
    # Columns the statement did not return stay deferred (read on access).
    values = [_convert(row[column], kind) for _, column, kind in present]
    command = Command.from_db(DEFAULT_DB_ALIAS, [a for a, _, _ in present], values)
    for column, value in row.items():
        if column not in _COMMAND_COLUMNS:
            setattr(command, column, value)
    return command


# --- the mailbox ---------------------------------------------------------------

# A new command's columns: the sender's values, then constants (written into
# the statement: fewer parameters to send and convert on every send).
_COMMAND_SENT_COLUMNS = ("instance_id", "name", "payload", "caused_by_id", "parent_waits",
                         "reply_to")
_COMMAND_NEW_VALUES = {
    "status": "'queued'", "result": "NULL", "error_type": "''", "error_message": "''",
    "traceback": "''", "attempts": "0", "watched": "FALSE", "waiting_for_id": "NULL",
    "wait_deadline": "NULL", "started_at": "NULL", "finished_at": "NULL",
}


@functools.cache
def _insert_command_sql(flushed_later: bool) -> str:
    later = ", set_config('synchronous_commit', 'off', true)" if flushed_later else ""
    return (
        f"INSERT INTO {COMMANDS} ({', '.join(_COMMAND_SENT_COLUMNS)}, "
        f"{', '.join(_COMMAND_NEW_VALUES)}, enqueued_at) "
        f"VALUES ({', '.join(['%s'] * len(_COMMAND_SENT_COLUMNS))}, "
        f"{', '.join(_COMMAND_NEW_VALUES.values())}, {now_sql()}) "
        f"RETURNING id{later}"
    )


def insert_command(
    *, instance_id: int, name: str, payload: Any, caused_by: int | None,
    parent_waits: bool, reply_to: str,
) -> int:
    """Insert a queued command; committed synchronously (durable when this
    returns, outside a transaction), except for a blocked sender's command
    on PostgreSQL: its sender has not returned yet, and returns only after
    the command's outcome committed synchronously, which flushes the WAL
    this insert wrote before it (one fsync saved on the round trip). A
    blocked sender that gives up flushes it first (``mailbox._await``)."""
    flushed_later = bool(reply_to) and on_postgresql() and not db().in_atomic_block
    row = fetch_one(_insert_command_sql(flushed_later), [
        instance_id, name, db_json(payload), caused_by, parent_waits, reply_to,
    ])
    assert row is not None  # INSERT … RETURNING always returns its row
    return int(row["id"])


# --- the head of a mailbox ---------------------------------------------------------

@functools.cache
def head_sql(instance: str = "%(instance)s") -> str:
    """The head of a mailbox (``instance``: an SQL expression for its id):
    its oldest open command."""
    return f"""(
    SELECT head.id FROM {COMMANDS} head
    WHERE head.instance_id = {instance} AND head.status IN {OPEN}
    ORDER BY head.id LIMIT 1
)"""


@functools.cache
def may_run_sql(table: str = COMMANDS) -> str:
    """Whether a command (a row of ``table``) may run: anything but a wait
    still pending (its awaited command open and its deadline ahead)."""
    return f"""(
    {table}.status <> 'waiting' OR {table}.waiting_for_id IS NULL
    OR {table}.wait_deadline <= {now_sql()}
    OR EXISTS (
        SELECT 1 FROM {COMMANDS} awaited WHERE awaited.id = {table}.waiting_for_id
        AND awaited.status IN {FINISHED}
    )
)"""
