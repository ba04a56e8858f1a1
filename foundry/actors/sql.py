"""Plain SQL for the statements the command loop runs several times per
command. Building them through the ORM (model instances, query compilation)
cost more than their round trip; these are portable across PostgreSQL and
SQLite and adapt values the way the ORM would."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import connection

from foundry.actors.models import FINISHED_STATUSES, OPEN_STATUSES, ActorInstance, Command, Step

INSTANCES = ActorInstance._meta.db_table
COMMANDS = Command._meta.db_table
STEPS = Step._meta.db_table
# Status lists as SQL literals, from the same constants the ORM filters use.
OPEN = "(" + ", ".join(f"'{s.value}'" for s in OPEN_STATUSES) + ")"
FINISHED = "(" + ", ".join(f"'{s.value}'" for s in FINISHED_STATUSES) + ")"


def execute(sql: str, params: list[Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def db_datetime(value: datetime | None) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def db_json(value: Any) -> str | None:
    """JSONField storage: SQL NULL for None, JSON text otherwise."""
    return None if value is None else json.dumps(value)


_STEP_COLUMNS = (
    "command_id", "index", "name", "status", "input", "output", "error_type",
    "error_message", "traceback", "attempt", "started_at", "finished_at",
)


_STEP_DEFAULTS = {"input": None, "output": None, "error_type": "", "error_message": "",
                  "traceback": ""}


def insert_step(**fields: Any) -> None:
    fields = {**_STEP_DEFAULTS, **fields}
    columns = ", ".join(connection.ops.quote_name(c) for c in _STEP_COLUMNS)
    values = [
        db_json(fields[c]) if c in ("input", "output")
        else db_datetime(fields[c]) if c.endswith("_at")
        else fields[c]
        for c in _STEP_COLUMNS
    ]
    execute(
        f"INSERT INTO {STEPS} ({columns}) VALUES ({', '.join(['%s'] * len(values))})", values
    )


def finish_command(
    command_id: int, instance_id: int, owner: str, *, status: str, result: Any,
    error_type: str, error_message: str, traceback: str, finished_at: datetime,
) -> bool:
    """The outcome, written only by the lease holder and only over a
    running command."""
    return execute(
        f"UPDATE {COMMANDS} SET status = %s, result = %s, error_type = %s, "
        "error_message = %s, traceback = %s, finished_at = %s, waiting_for_id = NULL, "
        "wait_deadline = NULL WHERE id = %s AND status = 'running' AND EXISTS ("
        f"SELECT 1 FROM {INSTANCES} WHERE id = %s AND lease_owner = %s)",
        [status, db_json(result), error_type, error_message, traceback,
         db_datetime(finished_at), command_id, instance_id, owner],
    ) == 1
