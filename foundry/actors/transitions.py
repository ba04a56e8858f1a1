"""The life of a command, as one state machine on both databases.

States of a command: ``queued`` → ``running`` → (``waiting`` → ``running``)*
→ ``succeeded`` | ``failed`` | ``cancelled`` (cancelled only from queued).
An instance is *leased* by at most one drain (see ``liveness.py``).

Each transition below is one atomic unit: what it writes commits together
or not at all, on PostgreSQL and on SQLite alike. The dialects differ only
in how: on PostgreSQL most are a single statement (data-modifying CTEs, one
round trip, one commit); on SQLite they are a few statements in one
transaction that takes the write lock at its first write.

- ``take``: the lease (if the head may run and no live drain holds it)
  and the head, claimed (status ``running``; a new attempt unless it
  resumes a wait).
- ``write_step``: a step's row, fenced by the lease, with whatever the
  step's function wrote in the same transaction (domain writes commit with
  their step row, or not at all).
- ``suspend``: the command ``waiting`` on another, with the last step's
  row; refused when the wait would close a cycle of waiting mailboxes.
- ``finish``: the outcome (fenced: only the lease holder, only over a
  running command), the last step's row, and either the next head claimed
  or, when the mailbox is empty, the lease let go.
- ``release``: the lease let go (a drain that stops with work left, or
  whose head waits).

A fenced write that finds the lease gone raises ``LeaseLost`` and commits
nothing. Time comes from the database's clock.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from foundry.actors.errors import LeaseLost
from foundry.actors.jsonvalue import clean_text
from foundry.actors.liveness import Lease, holder_alive
from foundry.actors.models import Command
from foundry.actors.replies import Delivery
from foundry.actors.sql import (
    COMMANDS,
    FINISHED,
    INSTANCES,
    OPEN,
    RUN_COLUMNS,
    STEPS,
    command_from_row,
    db_json,
    execute,
    fetch_all,
    fetch_one,
    head_sql,
    may_run_sql,
    now_plus_sql,
    now_sql,
    on_postgresql,
)
from foundry.actors.sql import seconds as as_seconds

# PostgreSQL: bookkeeping that writes no domain data (taking the lease and
# claiming; the row of a step that wrote nothing else) commits with
# synchronous_commit off. It is visible at once and survives any worker
# crash; only a crash of PostgreSQL itself within a fraction of a second can
# lose it, and then those steps run again, which steps allow. Sends,
# outcomes and steps that wrote domain data commit synchronously.
ASYNC_COMMIT = "set_config('synchronous_commit', 'off', true)"


@functools.cache
def _fence() -> str:
    """The condition under which a write on a drain's behalf may commit.

    SQLite: ``lease_owner`` still names the drain, checked inside the
    transaction that holds the write lock. PostgreSQL: the session that
    writes is the one holding the instance's advisory lock (``Lease.check``
    refuses any other), and that lock is only lost with the session itself,
    so a statement that succeeds on it ran under the lease: the session is
    the fence, and costs no lookup."""
    if on_postgresql():
        return "TRUE"
    return f"EXISTS (SELECT 1 FROM {INSTANCES} WHERE id = %(instance)s AND lease_owner = %(owner)s)"


@dataclass
class StepRow:
    """A step's row, as the step log records it."""

    command_id: int
    index: int
    name: str
    status: str
    attempt: int
    seconds: float
    input: Any = None
    output: Any = None
    error_type: str = ""
    error_message: str = ""
    traceback: str = ""
    error_data: Any = None

    def params(self, prefix: str = "step_") -> dict[str, Any]:
        return {
            f"{prefix}command_id": self.command_id, f"{prefix}index": self.index,
            f"{prefix}name": self.name, f"{prefix}status": self.status,
            f"{prefix}input": db_json(self.input), f"{prefix}output": db_json(self.output),
            f"{prefix}error_type": self.error_type[:255],
            f"{prefix}error_message": clean_text(self.error_message),
            f"{prefix}traceback": clean_text(self.traceback),
            f"{prefix}error_data": db_json(self.error_data), f"{prefix}attempt": self.attempt,
            f"{prefix}seconds": as_seconds(self.seconds),
        }


@dataclass
class Outcome:
    status: str
    result: Any = None
    error_type: str = ""
    error_message: str = ""
    traceback: str = ""

    def params(self) -> dict[str, Any]:
        return {
            "status": self.status, "result": db_json(self.result),
            "error_type": self.error_type[:255], "error_message": clean_text(self.error_message),
            "traceback": clean_text(self.traceback),
        }

    def message(self) -> dict[str, Any]:
        """What waiters hear (the rest of the row they know)."""
        return {
            "status": self.status, "result": self.result, "error_type": self.error_type,
            "error_message": clean_text(self.error_message),
        }


@dataclass
class Taken:
    taken: bool
    held_elsewhere: bool = False
    command: Command | None = None


@dataclass
class Finished:
    next_command: Command | None = None
    released: bool = False
    # Someone listens on the finished command's channel.
    watched: bool = False
    # Set by the loop: the outcome addressed to whoever waits for it.
    delivery: Delivery | None = None


@dataclass
class Cycle:
    """A wait refused: the mailboxes it would wait through, in order."""

    path: list[str] = field(default_factory=list)


@functools.cache
def _jsonb(param: str) -> str:
    return f"%({param})s::jsonb" if on_postgresql() else f"%({param})s"


@functools.cache
def _step_insert(prefix: str = "step_", *, condition: str | None = None) -> str:
    columns = (
        "command_id", "index", "name", "status", "input", "output", "error_type",
        "error_message", "traceback", "error_data", "attempt",
    )
    typed = {"input", "output", "error_data"}
    values = [
        _jsonb(f"{prefix}{c}") if c in typed
        else f"CAST(%({prefix}{c})s AS {'bigint' if c == 'command_id' else 'integer'})"
        if c in ("command_id", "index", "attempt") and on_postgresql()
        else f"%({prefix}{c})s"
        for c in columns
    ]
    quoted = ", ".join(f'"{c}"' for c in columns)
    return (
        f"INSERT INTO {STEPS} ({quoted}, started_at, finished_at) "
        f"SELECT {', '.join(values)}, {now_plus_sql(prefix + 'seconds', '-')}, {now_sql()} "
        f"WHERE {condition or _fence()}"
    )


# --- claiming ----------------------------------------------------------------------

@functools.cache
def _claim_set() -> str:
    # A waiting command resumes without counting an attempt; anything else
    # counts one.
    return f"""
    status = 'running',
    attempts = CASE WHEN status = 'waiting' THEN attempts ELSE attempts + 1 END,
    started_at = COALESCE(started_at, {now_sql()})"""


@functools.cache
def _claim_returning(table: str = COMMANDS) -> str:
    # What the drain needs to run the command without another read: whether
    # it has a step log to replay, the database's clock, and how many
    # commands were open (it tries to let go after the last one).
    # (SQLite only: whether another command is open, so that finishing this
    # one tries to let go in the same transaction; bounded, not a count.)
    more = "" if on_postgresql() else f""",
    (SELECT COUNT(*) FROM (SELECT 1 FROM {COMMANDS} o WHERE o.instance_id = {table}.instance_id
     AND o.status IN {OPEN} LIMIT 2)) AS open_before_claim"""
    columns = ", ".join(RUN_COLUMNS)
    return f"""{columns},
    EXISTS (SELECT 1 FROM {STEPS} s WHERE s.command_id = {table}.id) AS has_log,
    ({table}.wait_deadline IS NOT NULL AND {table}.wait_deadline <= {now_sql()}) AS wait_expired
    {more}"""


@functools.cache
def _claim_head_sql() -> str:
    return f"""
UPDATE {COMMANDS} SET {_claim_set()}
WHERE id = {head_sql()} AND status IN {OPEN} AND {may_run_sql()} AND {_fence()}
RETURNING {_claim_returning()}
"""


def _claimed(row: dict[str, Any] | None) -> Command | None:
    command = command_from_row(row)
    if command is not None:
        command.wait_expired = bool(row["wait_expired"]) if row else False  # type: ignore[attr-defined]
        command.has_log = bool(row["has_log"]) if row else False  # type: ignore[attr-defined]
    return command


def claim_head(lease: Lease) -> Command | None:
    """Claim the head if it may run and the lease is still this drain's."""
    lease.check()
    return _claimed(fetch_one(_claim_head_sql(), {"instance": lease.instance_id,
                                                  "owner": lease.owner}))


# --- take -------------------------------------------------------------------------

@functools.cache
def _take_pg_sql() -> str:
    return f"""
WITH runnable AS MATERIALIZED (
    SELECT id FROM {COMMANDS} WHERE id = {head_sql()} AND {may_run_sql()}
), locked AS MATERIALIZED (
    SELECT pg_try_advisory_lock(%(lock)s) AS got FROM runnable
), lease AS (
    UPDATE {INSTANCES} SET lease_owner = %(owner)s, lease_taken_at = {now_sql()}
    WHERE id = %(instance)s AND (SELECT got FROM locked)
    RETURNING id
), claimed AS (
    UPDATE {COMMANDS} SET {_claim_set()}
    WHERE id = (SELECT id FROM runnable) AND status IN {OPEN} AND EXISTS (SELECT 1 FROM lease)
    RETURNING {_claim_returning()}
)
SELECT (SELECT got FROM locked) AS locked, {ASYNC_COMMIT} AS async_commit, claimed.*
FROM (SELECT 1) AS one LEFT JOIN claimed ON TRUE
"""


@functools.cache
def _runnable_sqlite_sql() -> str:
    return f"""
SELECT lease_owner, EXISTS (
    SELECT 1 FROM {COMMANDS} WHERE id = {head_sql()} AND {may_run_sql()}
) AS runnable FROM {INSTANCES} WHERE id = %(instance)s
"""


def take(lease: Lease) -> Taken:
    """Take the lease, only if the head may run (an empty doorbell then
    writes nothing) and no live drain holds it, and claim the head."""
    params = {"instance": lease.instance_id, "owner": lease.owner}
    if on_postgresql():
        row = fetch_one(_take_pg_sql(), {**params, "lock": lease.lock_key})
        assert row is not None  # the statement selects from a one-row table
        if row["locked"] is None:
            return Taken(False)
        if not row["locked"]:
            return Taken(False, held_elsewhere=True)
        lease.taken()
        return Taken(True, command=_claimed(row))
    row = fetch_one(_runnable_sqlite_sql(), params)
    if row is None or not row["runnable"]:
        return Taken(False)
    seen = row["lease_owner"]
    if seen and holder_alive(seen):
        return Taken(False, held_elsewhere=True)
    with transaction.atomic():
        took = execute(
            f"UPDATE {INSTANCES} SET lease_owner = %(owner)s, lease_taken_at = {now_sql()} "
            "WHERE id = %(instance)s AND lease_owner = %(seen)s", {**params, "seen": seen},
        )
        if not took:
            return Taken(False, held_elsewhere=True)
        lease.taken()
        command = _claimed(fetch_one(_claim_head_sql(), params))
    return Taken(True, command=command)


# --- steps --------------------------------------------------------------------------

@functools.cache
def _standalone_step_sql() -> str:
    returning = f" RETURNING {ASYNC_COMMIT}" if on_postgresql() else ""
    return _step_insert() + returning


def write_step(lease: Lease, row: StepRow) -> None:
    """Record a step, fenced by the lease. Inside a transaction (a step
    whose function wrote), it commits with those writes; alone (a step that
    wrote nothing else), it commits asynchronously on PostgreSQL."""
    lease.check()
    params = {**row.params(), "instance": lease.instance_id, "owner": lease.owner}
    sql = _step_insert() if transaction.get_connection().in_atomic_block else _standalone_step_sql()
    if execute(sql, params) != 1:
        raise lease.lost()


# --- suspending -----------------------------------------------------------------------

def _wait_graph_lock() -> None:
    """Serialize the wait-cycle checks: of two commands that close a cycle
    at once, the second to check sees the first one waiting. (SQLite's
    write lock, already taken by this transaction, serializes them there.)"""
    if on_postgresql():
        fetch_one("SELECT pg_advisory_xact_lock(%(key)s) AS locked", {"key": _WAIT_GRAPH_KEY})


_WAIT_GRAPH_KEY = 0x46 << 56 | (1 << 55)


@functools.cache
def _hop_sql() -> str:
    return f"""
SELECT c.instance_id AS instance_id, i.actor_type AS actor_type, i.key AS actor_key,
    h.id AS head_id, h.status AS head_status, h.waiting_for_id AS head_waits_for,
    EXISTS (
        SELECT 1 FROM {COMMANDS} w WHERE w.id = h.waiting_for_id AND w.status IN {FINISHED}
    ) AS head_wait_done
FROM {COMMANDS} c JOIN {INSTANCES} i ON i.id = c.instance_id
LEFT JOIN {COMMANDS} h ON h.id = (
    SELECT id FROM {COMMANDS} WHERE instance_id = c.instance_id AND status IN {OPEN}
    ORDER BY id LIMIT 1
)
WHERE c.id = %(command)s
"""


# A chain of waits longer than this is refused as if it were a cycle: it
# is almost certainly a runaway, and the walk must stay cheap.
MAX_WAIT_CHAIN = 1000


def find_cycle(waiter_instance: int, awaited_command: int) -> Cycle | None:
    """Whether waiting on ``awaited_command`` closes a cycle: the awaited
    command's mailbox is blocked by a head that waits (directly or through
    other blocked mailboxes) on the waiter's own mailbox."""
    command = awaited_command
    seen: set[int] = set()
    path: list[str] = []
    while True:
        row = fetch_one(_hop_sql(), {"command": command})
        if row is None:
            return None  # the awaited command is gone (pruned): nothing to wait through
        instance = int(row["instance_id"])
        path.append(f"{row['actor_type']}:{row['actor_key']}")
        if instance == waiter_instance or instance in seen or len(path) > MAX_WAIT_CHAIN:
            return Cycle(path)
        seen.add(instance)
        if (
            row["head_id"] is None or row["head_status"] != "waiting"
            or row["head_waits_for"] is None or row["head_wait_done"]
        ):
            return None  # the mailbox's head will run (or is running): no cycle now
        command = int(row["head_waits_for"])


@functools.cache
def _suspend_sql() -> str:
    # A wait resumed on the same command keeps its deadline.
    return f"""
UPDATE {COMMANDS} SET status = 'waiting', waiting_for_id = %(awaited)s,
    wait_deadline = CASE WHEN waiting_for_id = %(awaited)s AND wait_deadline IS NOT NULL
        THEN wait_deadline ELSE {now_plus_sql('seconds')} END
WHERE id = %(command)s AND status = 'running' AND {_fence()}
RETURNING {_seconds_until('wait_deadline')} AS seconds_left
"""


def _seconds_until(column: str) -> str:
    if on_postgresql():
        return f"EXTRACT(EPOCH FROM {column} - {now_sql()})"
    return f"(julianday({column}) - julianday('now')) * 86400.0"



class _Refused(Exception):
    """Rolls the suspend back when the wait would close a cycle."""

    def __init__(self, cycle: Cycle) -> None:
        self.cycle = cycle


def suspend(
    lease: Lease, command: Command, *, awaited: int, seconds: float,
    unwritten: StepRow | None,
) -> float | Cycle:
    """Set the command waiting on ``awaited`` (deadline: ``seconds`` from now
    on the database's clock, or the one it had for the same wait), with the
    last step's row. Returns the seconds left until the deadline, or the
    cycle the wait would close (then nothing but the last step's row is
    written)."""
    lease.check()
    params = {
        "command": command.pk, "awaited": awaited, "seconds": as_seconds(seconds),
        "instance": lease.instance_id, "owner": lease.owner,
    }
    try:
        with transaction.atomic():
            if unwritten is not None:
                write_step(lease, unwritten)
            _wait_graph_lock()
            row = fetch_one(_suspend_sql(), params)
            if row is None:
                raise lease.lost()
            cycle = find_cycle(command.instance_id, awaited)
            if cycle is not None:
                raise _Refused(cycle)
    except _Refused as refused:
        if unwritten is not None:
            write_step(lease, unwritten)
        return refused.cycle
    return float(row["seconds_left"])


# --- outcomes -----------------------------------------------------------------------

# PostgreSQL: an outcome someone waits for (a blocked sender, a watcher, a
# suspended parent) commits synchronously: once a waiter heard it, it must
# survive anything. An outcome nobody waits for commits asynchronously, like
# the bookkeeping above: only a crash of PostgreSQL itself in the next
# fraction of a second can lose it, and then the command runs again from its
# last recorded step, which steps allow. (Steps that wrote domain data
# committed synchronously with their own rows, before.)
_OBSERVED_COMMIT = (
    "set_config('synchronous_commit', CASE WHEN (SELECT observed FROM finished) "
    "THEN 'on' ELSE 'off' END, true)"
)

@functools.cache
def _outcome_set() -> str:
    return f"""
    status = %(status)s, result = {_jsonb('result')}, error_type = %(error_type)s,
    error_message = %(error_message)s, traceback = %(traceback)s, finished_at = {now_sql()},
    waiting_for_id = NULL, wait_deadline = NULL"""


@functools.cache
def _finish_pg_sql(with_step: bool) -> str:
    step = (
        f", unwritten_step AS ({_step_insert(condition='EXISTS (SELECT 1 FROM finished)')})"
        if with_step else ""
    )
    return f"""
WITH finished AS (
    UPDATE {COMMANDS} SET {_outcome_set()}
    WHERE id = %(command)s AND status = 'running' AND {_fence()}
    RETURNING id, watched, reply_to <> '' OR parent_waits OR watched AS observed
){step}, next_head AS (
    SELECT head.id FROM {COMMANDS} head
    WHERE head.instance_id = %(instance)s AND head.status IN {OPEN} AND head.id <> %(command)s
    ORDER BY head.id LIMIT 1
), claimed AS (
    UPDATE {COMMANDS} SET {_claim_set()}
    WHERE id = (SELECT id FROM next_head) AND status IN {OPEN} AND {may_run_sql()}
    AND %(claim_next)s AND EXISTS (SELECT 1 FROM finished)
    RETURNING {_claim_returning()}
), released AS (
    UPDATE {INSTANCES} SET lease_owner = '', lease_taken_at = NULL
    WHERE id = %(instance)s AND lease_owner = %(owner)s
    AND EXISTS (SELECT 1 FROM finished) AND NOT EXISTS (SELECT 1 FROM next_head)
    RETURNING id
), unlocked AS MATERIALIZED (
    SELECT pg_advisory_unlock(%(lock)s) AS ok FROM released
)
SELECT (SELECT COUNT(*) FROM finished) AS finished,
    (SELECT COUNT(*) FROM unlocked) AS released,
    (SELECT watched FROM finished) AS watched_finished,
    {_OBSERVED_COMMIT} AS commit_mode,
    claimed.*
FROM (SELECT 1) AS one LEFT JOIN claimed ON TRUE
"""


@functools.cache
def _outcome_sqlite_sql() -> str:
    return f"""
UPDATE {COMMANDS} SET {_outcome_set()}
WHERE id = %(command)s AND status = 'running' AND {_fence()}
RETURNING watched
"""


def finish(
    lease: Lease, command: Command, outcome: Outcome, *, unwritten: StepRow | None,
    claim_next: bool,
) -> Finished:
    """Write the outcome and the last step's row; then claim the next head
    (when ``claim_next`` and it may run) or, with no other open command,
    let go of the lease."""
    lease.check()
    params: dict[str, Any] = {
        **outcome.params(), "command": command.pk, "instance": lease.instance_id,
        "owner": lease.owner,
    }
    if on_postgresql():
        if unwritten is not None:
            params.update(unwritten.params())
        params.update(claim_next=claim_next, lock=lease.lock_key)
        row = fetch_one(_finish_pg_sql(unwritten is not None), params)
        assert row is not None  # the statement selects from a one-row table
        if not row["finished"]:
            raise lease.lost()
        if row["released"]:
            lease.let_go()
        return Finished(
            _claimed(row), released=bool(row["released"]), watched=bool(row["watched_finished"])
        )
    with transaction.atomic():
        if unwritten is not None:
            write_step(lease, unwritten)
        outcome_row = fetch_one(_outcome_sqlite_sql(), params)
        if outcome_row is None:
            raise lease.lost()
        watched = bool(outcome_row["watched"])
        # The claim counted the open commands (this one included): after
        # the last one, let go in the same transaction.
        if getattr(command, "open_before_claim", 2) <= 1 and _release_if_idle_sqlite(lease):
            return Finished(released=True, watched=watched)
        next_command = claim_head(lease) if claim_next else None
    return Finished(next_command, watched=watched)


# --- letting go ----------------------------------------------------------------------

@functools.cache
def _release_pg_sql(if_idle: bool) -> str:
    idle = f" AND NOT EXISTS (SELECT 1 FROM {COMMANDS} WHERE instance_id = %(instance)s " \
        f"AND status IN {OPEN})" if if_idle else ""
    return f"""
WITH released AS (
    UPDATE {INSTANCES} SET lease_owner = '', lease_taken_at = NULL
    WHERE id = %(instance)s AND lease_owner = %(owner)s{idle}
    RETURNING id
), unlocked AS MATERIALIZED (
    SELECT pg_advisory_unlock(%(lock)s) AS ok {"FROM released" if if_idle else ""}
)
SELECT (SELECT COUNT(*) FROM released) AS released, (SELECT COUNT(*) FROM unlocked) AS unlocked
"""


def _release_if_idle_sqlite(lease: Lease) -> bool:
    released = execute(
        f"UPDATE {INSTANCES} SET lease_owner = '', lease_taken_at = NULL "
        "WHERE id = %(instance)s AND lease_owner = %(owner)s AND NOT EXISTS ("
        f"SELECT 1 FROM {COMMANDS} WHERE instance_id = %(instance)s AND status IN {OPEN})",
        {"instance": lease.instance_id, "owner": lease.owner},
    ) == 1
    if released:
        lease.let_go()
    return released


def release_if_idle(lease: Lease) -> bool:
    """Let go only if the mailbox has no open command."""
    if not lease.held:
        return True
    if on_postgresql():
        row = fetch_one(_release_pg_sql(True), {
            "instance": lease.instance_id, "owner": lease.owner, "lock": lease.lock_key,
        })
        released = bool(row and row["released"])
        if released:
            lease.let_go()
        return released
    return _release_if_idle_sqlite(lease)


def release(lease: Lease) -> None:
    """Let go, whatever is left in the mailbox (the drain stops)."""
    if not lease.held:
        return
    params = {"instance": lease.instance_id, "owner": lease.owner}
    try:
        if on_postgresql():
            fetch_one(_release_pg_sql(False), {**params, "lock": lease.lock_key})
        else:
            execute(
                f"UPDATE {INSTANCES} SET lease_owner = '', lease_taken_at = NULL "
                "WHERE id = %(instance)s AND lease_owner = %(owner)s", params,
            )
    finally:
        lease.let_go()


def has_runnable(instance_id: int) -> bool:
    return fetch_one(
        f"SELECT 1 AS runnable FROM {COMMANDS} WHERE id = {head_sql()} AND {may_run_sql()}",
        {"instance": instance_id},
    ) is not None


# --- the sweeper's view ------------------------------------------------------------------

@functools.cache
def _candidates_sql() -> str:
    held = ""
    if on_postgresql():
        # A lease is held while its drain's session holds the advisory lock.
        held = """, EXISTS (
            SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted
            AND l.objsubid = 1 AND l.classid = ((%(namespace)s::bigint | i.id) >> 32)::oid
            AND l.objid = ((%(namespace)s::bigint | i.id) & 4294967295)::oid
        ) AS locked"""
    return f"""
SELECT i.id AS id, i.actor_type AS actor_type, i.lease_owner AS lease_owner{held}
FROM {INSTANCES} i
WHERE i.id IN (SELECT instance_id FROM {COMMANDS} WHERE status IN {OPEN})
AND EXISTS (
    SELECT 1 FROM {COMMANDS} WHERE id = {head_sql('i.id')} AND {may_run_sql()}
)
"""


@dataclass
class Unattended:
    instance_id: int
    type_name: str
    # A drain died holding it: its doorbell count, if any, belongs to a
    # drain that will never clear it.
    orphaned: bool


def unattended() -> list[Unattended]:
    """Instances whose head may run and that no live drain holds."""
    from foundry.actors.liveness import LOCK_NAMESPACE

    rows = fetch_all(_candidates_sql(), {"namespace": LOCK_NAMESPACE} if on_postgresql() else {})
    found = []
    for row in rows:
        owner = row["lease_owner"]
        if on_postgresql():
            if row["locked"]:
                continue
        elif owner and holder_alive(owner):
            continue
        found.append(Unattended(int(row["id"]), row["actor_type"], orphaned=bool(owner)))
    return found


def decode_json(value: Any) -> Any:
    """A JSON column as read through the plain statements (text on SQLite)."""
    return json.loads(value) if isinstance(value, str) else value


__all__ = [
    "Cycle", "Finished", "LeaseLost", "Outcome", "StepRow", "Taken", "claim_head",
    "finish", "find_cycle", "has_runnable", "release", "release_if_idle", "suspend", "take",
    "unattended", "write_step",
]
