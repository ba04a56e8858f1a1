"""Plain SQL for the statements the command loop runs for every command.

Building them through the ORM (model instances, query compilation) cost
more than their round trip. The portable statements run on PostgreSQL and
SQLite alike; on PostgreSQL a few pairs of them are merged into one
statement with data-modifying CTEs (taking the lease and claiming the head;
writing an outcome and claiming the next command or letting go), because
there each statement is a round trip and a commit.

On PostgreSQL these statements bypass Django's cursor wrapper (about 0.1 ms
a statement here) and bind parameters server-side, so each is prepared once
per connection. They still run on Django's connection, inside whatever
transaction Django has open, and raise Django's database exceptions.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections, models

from foundry.actors.models import FINISHED_STATUSES, OPEN_STATUSES, ActorInstance, Command, Step

INSTANCES = ActorInstance._meta.db_table
COMMANDS = Command._meta.db_table
STEPS = Step._meta.db_table
# Status lists as SQL literals, from the same constants the ORM filters use.
OPEN = "(" + ", ".join(f"'{s.value}'" for s in OPEN_STATUSES) + ")"
FINISHED = "(" + ", ".join(f"'{s.value}'" for s in FINISHED_STATUSES) + ")"

Params = Sequence[Any] | dict[str, Any]

# On PostgreSQL, the loop's bookkeeping before a command's outcome (taking
# the lease and claiming; the row of a step that wrote nothing else) commits
# asynchronously: it is visible at once and survives any worker crash, and
# it is flushed by the next synchronous commit, at the latest the command's
# outcome. Only a crash of PostgreSQL itself within a fraction of a second
# can lose it, and then those steps run again: steps are at-least-once
# already. Anything that writes domain data, and every outcome and send,
# commits synchronously.
ASYNC_COMMIT = "set_config('synchronous_commit', 'off', true)"


def _db() -> Any:
    # One lookup of the default connection per statement: every attribute
    # read through ``django.db.connection`` repeats it.
    return connections[DEFAULT_DB_ALIAS]


@functools.cache
def on_postgresql() -> bool:
    return bool(connections[DEFAULT_DB_ALIAS].vendor == "postgresql")


# Column names per statement text: building them from cursor.description
# on every fetch cost more than the rest of the fetch.
_column_names: dict[str, tuple[str, ...]] = {}


def _run(sql: str, params: Params, *, fetch: bool) -> Any:
    db = _db()
    if on_postgresql():
        db.ensure_connection()
        with db.wrap_database_errors, psycopg.Cursor(db.connection) as cursor:
            if db.execute_wrappers:
                # Django's execute_wrappers still see these statements (a
                # step counts the statements its function ran).
                def run(sql: str, params: Params, many: bool, context: Any) -> None:
                    cursor.execute(sql, params, prepare=True)

                executor: Any = run
                for wrapper in reversed(db.execute_wrappers):
                    executor = functools.partial(wrapper, executor)
                executor(sql, params, False, {"connection": db, "cursor": cursor})
            else:
                cursor.execute(sql, params, prepare=True)
            return _result(cursor, sql, fetch)
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        return _result(cursor, sql, fetch)


def _result(cursor: Any, sql: str, fetch: bool) -> Any:
    if not fetch:
        return int(cursor.rowcount)
    row = cursor.fetchone()
    if row is None:
        return None
    names = _column_names.get(sql)
    if names is None:
        names = _column_names[sql] = tuple(c[0] for c in cursor.description)
    return dict(zip(names, row, strict=True))


def execute(sql: str, params: Params) -> int:
    """Run a statement; return its row count."""
    return int(_run(sql, params, fetch=False))


def fetch_one(sql: str, params: Params) -> dict[str, Any] | None:
    """Run a statement; return its first row by column name."""
    row: dict[str, Any] | None = _run(sql, params, fetch=True)
    return row


def db_datetime(value: datetime | None) -> Any:
    return _db().ops.adapt_datetimefield_value(value)


def db_json(value: Any) -> str | None:
    """JSONField storage: SQL NULL for None, JSON text otherwise."""
    return None if value is None else json.dumps(value)


# (attribute, column, holds JSON) of each Command field, in model order.
_COMMAND_FIELDS = [
    (f.attname, str(f.column), isinstance(f, models.JSONField))
    for f in Command._meta.concrete_fields
]
_COMMAND_COLUMNS = {column for _, column, _ in _COMMAND_FIELDS}
_COMMAND_ATTNAMES = [attname for attname, _, _ in _COMMAND_FIELDS]


def command_from_row(row: dict[str, Any]) -> Command | None:
    """A Command from a PostgreSQL ``RETURNING`` row (JSON arrives as text,
    as Django's connection loads it); ``None`` when the row's id is NULL.
    Extra columns become attributes."""
    if row.get("id") is None:
        return None
    values = []
    for _, column, is_json in _COMMAND_FIELDS:
        value = row[column]
        values.append(json.loads(value) if is_json and isinstance(value, str) else value)
    command = Command.from_db(DEFAULT_DB_ALIAS, _COMMAND_ATTNAMES, values)
    for column, value in row.items():
        if column not in _COMMAND_COLUMNS:
            setattr(command, column, value)
    return command


# --- the mailbox ------------------------------------------------------------

_COMMAND_INSERT_COLUMNS = (
    "instance_id", "name", "payload", "status", "result", "error_type", "error_message",
    "traceback", "attempts", "caused_by_id", "parent_waits", "reply_to", "waiting_for_id",
    "wait_deadline", "enqueued_at", "started_at", "finished_at",
)
_INSERT_COMMAND = (
    f"INSERT INTO {COMMANDS} ({', '.join(_COMMAND_INSERT_COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(_COMMAND_INSERT_COLUMNS))}) RETURNING id"
)


def insert_command(
    *, instance_id: int, name: str, payload: Any, caused_by: int | None,
    parent_waits: bool, reply_to: str, enqueued_at: datetime,
) -> int:
    row = fetch_one(_INSERT_COMMAND, [
        instance_id, name, db_json(payload), "queued", None, "", "", "", 0, caused_by,
        parent_waits, reply_to, None, None, db_datetime(enqueued_at), None, None,
    ])
    assert row is not None  # INSERT … RETURNING always returns its row
    return int(row["id"])


# --- the head of a mailbox ---------------------------------------------------

# The head of a mailbox is its oldest open command; it may run unless it is
# a wait still pending. One rule, shared by the claims and by the checks.
# (Positional form for the portable statements: instance id, then now.)
HEAD = f"""(
    SELECT head.id FROM {COMMANDS} head
    WHERE head.instance_id = %s AND head.status IN {OPEN}
    ORDER BY head.id LIMIT 1
)"""
MAY_RUN = f"""(
    status <> 'waiting' OR waiting_for_id IS NULL OR wait_deadline <= %s
    OR EXISTS (
        SELECT 1 FROM {COMMANDS} awaited WHERE awaited.id = {COMMANDS}.waiting_for_id
        AND awaited.status IN {FINISHED}
    )
)"""
# The same rule with named parameters, for the PostgreSQL-only statements.
_MAY_RUN_NAMED = MAY_RUN.replace("%s", "%(now)s")

# Claiming sets a command running. A waiting command resumes without
# counting an attempt; anything else counts one. ``status IN OPEN`` on the
# row itself, so a command cancelled since the head was read is left alone.
_CLAIM_SET = """
    status = 'running',
    attempts = CASE WHEN status = 'waiting' THEN attempts ELSE attempts + 1 END,
    started_at = COALESCE(started_at, {now})
"""
_OPEN_COUNT = f"""(
    SELECT COUNT(*) FROM {COMMANDS} open_command
    WHERE open_command.instance_id = {{instance}} AND open_command.status IN {OPEN}
    {{excluding}}
)"""

HAS_RUNNABLE = f"SELECT 1 AS runnable FROM {COMMANDS} WHERE id = {HEAD} AND {MAY_RUN}"
_LEASE_LIVE = "lease_owner <> '' AND lease_expires_at >= {now}"
LEASE_IS_LIVE = (
    f"SELECT 1 AS live FROM {INSTANCES} WHERE id = %s AND {_LEASE_LIVE.format(now='%s')}"
)

# Portable: claim the head if it may run and the lease is still this
# drain's. The count of open commands (the claimed one included) tells the
# drain whether to try letting go afterwards.
CLAIM_HEAD = f"""
UPDATE {COMMANDS} SET {_CLAIM_SET.format(now="%s")}
WHERE id = {HEAD} AND status IN {OPEN} AND {MAY_RUN}
AND EXISTS (SELECT 1 FROM {INSTANCES} WHERE id = %s AND lease_owner = %s)
RETURNING *, {_OPEN_COUNT.format(instance="%s", excluding="")} AS open_before_claim
"""

# Portable: take a free or expired lease, only when the head may run: an
# empty doorbell costs one statement that writes nothing.
ACQUIRE = f"""
UPDATE {INSTANCES} SET lease_owner = %s, lease_expires_at = %s
WHERE id = %s AND (lease_owner = '' OR lease_expires_at IS NULL OR lease_expires_at < %s)
AND EXISTS (SELECT 1 FROM {COMMANDS} WHERE id = {HEAD} AND {MAY_RUN})
"""

# PostgreSQL: ACQUIRE and CLAIM_HEAD in one statement. ``held_elsewhere``
# reads the snapshot from before the take.
ACQUIRE_AND_CLAIM = f"""
WITH runnable AS (
    SELECT id FROM {COMMANDS}
    WHERE id = {HEAD.replace("%s", "%(instance)s")} AND {_MAY_RUN_NAMED}
), lease AS (
    UPDATE {INSTANCES} SET lease_owner = %(owner)s, lease_expires_at = %(until)s
    WHERE id = %(instance)s
    AND (lease_owner = '' OR lease_expires_at IS NULL OR lease_expires_at < %(now)s)
    AND EXISTS (SELECT 1 FROM runnable)
    RETURNING id
), claimed AS (
    UPDATE {COMMANDS} SET {_CLAIM_SET.format(now="%(now)s")}
    WHERE id = (SELECT id FROM runnable) AND status IN {OPEN}
    AND EXISTS (SELECT 1 FROM lease)
    RETURNING {COMMANDS}.*
)
SELECT (SELECT COUNT(*) FROM lease) AS leased,
    EXISTS (
        SELECT 1 FROM {INSTANCES} WHERE id = %(instance)s
        AND {_LEASE_LIVE.format(now="%(now)s")}
    ) AS held_elsewhere,
    {_OPEN_COUNT.format(instance="%(instance)s", excluding="")} AS open_before_claim,
    {ASYNC_COMMIT} AS async_commit,
    claimed.*
FROM (SELECT 1) AS one LEFT JOIN claimed ON TRUE
"""

# --- outcomes ----------------------------------------------------------------

_OUTCOME_SET = """
    status = {status}, result = {result}, error_type = {error_type},
    error_message = {error_message}, traceback = {traceback}, finished_at = {finished_at},
    waiting_for_id = NULL, wait_deadline = NULL
"""

# Portable: the outcome, written only by the lease holder and only over a
# running command.
FINISH = f"""
UPDATE {COMMANDS} SET {_OUTCOME_SET.format(
    status="%s", result="%s", error_type="%s", error_message="%s", traceback="%s",
    finished_at="%s")}
WHERE id = %s AND status = 'running'
AND EXISTS (SELECT 1 FROM {INSTANCES} WHERE id = %s AND lease_owner = %s)
"""

# --- the step log --------------------------------------------------------------

_STEP_COLUMNS = (
    "command_id", "index", "name", "status", "input", "output", "error_type",
    "error_message", "traceback", "attempt", "started_at", "finished_at",
)
_STEP_DEFAULTS = {"input": None, "output": None, "error_type": "", "error_message": "",
                  "traceback": ""}


# Casts for the step row written by FINISH_AND_CONTINUE (INSERT … SELECT
# gives its parameters no column types).
_STEP_CASTS = {
    "command_id": "bigint", "index": "integer", "name": "text", "status": "text",
    "input": "jsonb", "output": "jsonb", "error_type": "text", "error_message": "text",
    "traceback": "text", "attempt": "integer", "started_at": "timestamptz",
    "finished_at": "timestamptz",
}
_FINISH_STEP = f"""
, unwritten_step AS (
    INSERT INTO {STEPS} ({", ".join(f'"{c}"' for c in _STEP_COLUMNS)})
    SELECT {", ".join(f"%(step_{c})s::{_STEP_CASTS[c]}" for c in _STEP_COLUMNS)}
    WHERE EXISTS (SELECT 1 FROM finished)
)"""

# PostgreSQL: FINISH, then in the same statement either claim the next
# command (when ``claim_next`` and it may run) or, when no other command is
# open, let go of the lease. The statement's snapshot still shows the
# finishing command as running, hence the ``<> %(command)s``. The
# ``…_WITH_STEP`` form also writes the handler's last step, when that step
# touched no table (see ``CommandContext.unwritten_step``).
_FINISH_AND_CONTINUE = f"""
WITH finished AS (
    UPDATE {COMMANDS} SET {_OUTCOME_SET.format(
        status="%(status)s", result="%(result)s", error_type="%(error_type)s",
        error_message="%(error_message)s", traceback="%(traceback)s",
        finished_at="%(finished_at)s")}
    WHERE id = %(command)s AND status = 'running'
    AND EXISTS (SELECT 1 FROM {INSTANCES} WHERE id = %(instance)s AND lease_owner = %(owner)s)
    RETURNING id
){{unwritten_step}}, next_head AS (
    SELECT head.id FROM {COMMANDS} head
    WHERE head.instance_id = %(instance)s AND head.status IN {OPEN} AND head.id <> %(command)s
    ORDER BY head.id LIMIT 1
), claimed AS (
    UPDATE {COMMANDS} SET {_CLAIM_SET.format(now="%(now)s")}
    WHERE id = (SELECT id FROM next_head) AND status IN {OPEN} AND {_MAY_RUN_NAMED}
    AND %(claim_next)s AND EXISTS (SELECT 1 FROM finished)
    RETURNING {COMMANDS}.*
), released AS (
    UPDATE {INSTANCES} SET lease_owner = '', lease_expires_at = NULL
    WHERE id = %(instance)s AND lease_owner = %(owner)s
    AND EXISTS (SELECT 1 FROM finished) AND NOT EXISTS (SELECT 1 FROM next_head)
    RETURNING id
)
SELECT (SELECT COUNT(*) FROM finished) AS finished,
    (SELECT COUNT(*) FROM released) AS released,
    {_OPEN_COUNT.format(instance="%(instance)s", excluding="AND open_command.id <> %(command)s")}
        AS open_before_claim,
    claimed.*
FROM (SELECT 1) AS one LEFT JOIN claimed ON TRUE
"""
FINISH_AND_CONTINUE = _FINISH_AND_CONTINUE.format(unwritten_step="")
FINISH_AND_CONTINUE_WITH_STEP = _FINISH_AND_CONTINUE.format(unwritten_step=_FINISH_STEP)

@functools.cache
def _insert_step_sql(commit_async: bool) -> str:
    columns = ", ".join(_db().ops.quote_name(c) for c in _STEP_COLUMNS)
    returning = f" RETURNING {ASYNC_COMMIT}" if commit_async else ""
    placeholders = ", ".join(["%s"] * len(_STEP_COLUMNS))
    return f"INSERT INTO {STEPS} ({columns}) VALUES ({placeholders}){returning}"


def step_values(**fields: Any) -> list[Any]:
    """A step row's values, in ``_STEP_COLUMNS`` order."""
    fields = {**_STEP_DEFAULTS, **fields}
    return [
        db_json(fields[c]) if c in ("input", "output")
        else db_datetime(fields[c]) if c.endswith("_at")
        else fields[c]
        for c in _STEP_COLUMNS
    ]


def step_params(**fields: Any) -> dict[str, Any]:
    """A step row as the named parameters of FINISH_AND_CONTINUE_WITH_STEP."""
    return {f"step_{c}": v for c, v in zip(_STEP_COLUMNS, step_values(**fields), strict=True)}


def insert_step(*, commit_async: bool = False, **fields: Any) -> None:
    """Record a step. ``commit_async`` only for a step row written in its
    own transaction (see ASYNC_COMMIT)."""
    values = step_values(**fields)
    # set_config(…, true) lasts for the transaction: only alone in one.
    alone = not _db().in_atomic_block
    execute(_insert_step_sql(commit_async and alone and on_postgresql()), values)
