"""The command loop: drain one instance's mailbox, one command at a time.

Promises:

- Commands of one instance run one at a time (the lease) and in id order
  (the head of the mailbox is its oldest open command). A command that is
  ``running`` when a drain starts was interrupted: it is resumed, and its
  recorded steps replay.
- A command that waits on another is ``waiting``: it stays at the head, so
  later commands of its instance wait behind it, but no worker is held.
- A drain gives its worker back after ``FOUNDRY_ACTOR_DRAIN_SLICE_SECONDS``
  and rings again, so one busy instance cannot starve the rest.
- A command that keeps losing its worker is failed after
  ``FOUNDRY_ACTOR_MAX_ATTEMPTS`` attempts rather than retried forever.
- Failures of a handler fail its command, never the loop: the instance goes
  on with its next command.
"""

from __future__ import annotations

import enum
import logging
import time
import traceback
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from foundry.actors.context import CommandContext, Suspend
from foundry.actors.dbretry import atomic_with_retry
from foundry.actors.errors import ActorError, LeaseLost, UnknownActorType
from foundry.actors.jsonvalue import to_json_value
from foundry.actors.lease import Lease, kept_alive
from foundry.actors.mailbox import ring
from foundry.actors.models import (
    OPEN_STATUSES,
    ActorInstance,
    Command,
    CommandStatus,
)
from foundry.actors.notify import command_channel, get_notifier, reply_channel
from foundry.actors.registry import actor_type
from foundry.actors.sql import COMMANDS, FINISHED, INSTANCES, OPEN, db_datetime, finish_command

logger = logging.getLogger(__name__)


class AbandonedCommand(ActorError):
    pass


class Outcome(enum.Enum):
    FINISHED = "finished"
    SUSPENDED = "suspended"
    LEASE_LOST = "lease lost"


# The head of a mailbox is its oldest open command; it may run unless it is
# a wait still pending. One rule, shared by the claim and by the checks.
_HEAD = f"""(
    SELECT head.id FROM {COMMANDS} head
    WHERE head.instance_id = %s AND head.status IN {OPEN}
    ORDER BY head.id LIMIT 1
)"""
_MAY_RUN = f"""(
    status <> 'waiting' OR waiting_for_id IS NULL OR wait_deadline <= %s
    OR EXISTS (
        SELECT 1 FROM {COMMANDS} awaited WHERE awaited.id = {COMMANDS}.waiting_for_id
        AND awaited.status IN {FINISHED}
    )
)"""
_HAS_RUNNABLE = f"SELECT 1 FROM {COMMANDS} WHERE id = {_HEAD} AND {_MAY_RUN}"


def has_runnable(instance_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(_HAS_RUNNABLE, [instance_id, db_datetime(timezone.now())])
        return cursor.fetchone() is not None


class _DrainEnd(enum.Enum):
    RELEASED = "mailbox empty, lease released"
    BLOCKED = "head command waits on another command"
    SLICED = "time slice used up"
    LOST = "lease lost"


def drain(instance_id: int, type_name: str) -> None:
    """Run the instance's runnable commands while holding its lease."""
    actor_type(type_name)  # fails loudly for a type this worker does not know
    slice_ends = time.monotonic() + settings.FOUNDRY_ACTOR_DRAIN_SLICE_SECONDS
    while True:
        lease = Lease(instance_id)
        if not lease.acquire():
            return  # Another worker drains it; it re-reads before letting go.
        end: _DrainEnd | None = None
        try:
            with kept_alive(lease):
                end = _drain_leased(lease, type_name, slice_ends)
        finally:
            if end is not _DrainEnd.RELEASED:
                lease.release()
        # Re-read after letting go, in a new statement: a sender that saw the
        # lease still held skipped its doorbell, counting on this check. (On
        # PostgreSQL the releasing UPDATE reads an older snapshot and can miss
        # a command committed while it ran.)
        if not has_runnable(instance_id):
            return
        if end is _DrainEnd.SLICED or time.monotonic() > slice_ends:
            ring(instance_id, type_name)
            return
        # Otherwise (released, blocked, lost) try to take the lease again.


def _drain_leased(lease: Lease, type_name: str, slice_ends: float) -> _DrainEnd:
    while True:
        command = claim_head(lease)
        if command is None:
            if lease.release_if_idle():
                return _DrainEnd.RELEASED
            # Open commands but none claimable: the head waits, or the lease
            # was taken over.
            return _DrainEnd.LOST if not lease.renew() else _DrainEnd.BLOCKED
        outcome = run_command(type_name, command, lease)
        if outcome is Outcome.LEASE_LOST:
            return _DrainEnd.LOST
        if time.monotonic() > slice_ends:
            return _DrainEnd.SLICED
        # The claim counted the open commands (its own included) as it saw
        # them: with more behind it, claim the next one straight away; when
        # it was the last, try to let go in the same round trip as the check.
        more_behind = getattr(command, "open_before_claim", 0) > 1
        if outcome is Outcome.FINISHED and not more_behind and lease.release_if_idle():
            return _DrainEnd.RELEASED


# Claim the head in one statement, if it may run and the lease is still
# this drain's. A waiting command resumes without counting an attempt;
# anything else counts one. The count of open commands (the claimed one
# included) tells the drain whether to try letting go afterwards.
_CLAIM_HEAD = f"""
UPDATE {COMMANDS} SET
    status = 'running',
    attempts = CASE WHEN status = 'waiting' THEN attempts ELSE attempts + 1 END,
    started_at = COALESCE(started_at, %s)
WHERE id = {_HEAD} AND {_MAY_RUN}
AND EXISTS (SELECT 1 FROM {INSTANCES} WHERE id = %s AND lease_owner = %s)
RETURNING *, (
    SELECT COUNT(*) FROM {COMMANDS} open_command
    WHERE open_command.instance_id = %s AND open_command.status IN {OPEN}
) AS open_before_claim
"""


def claim_head(lease: Lease) -> Command | None:
    now = db_datetime(timezone.now())
    rows = list(
        Command.objects.raw(
            _CLAIM_HEAD,
            [now, lease.instance_id, now, lease.instance_id, lease.owner, lease.instance_id],
        )
    )
    return rows[0] if rows else None


def run_command(type_name: str, command: Command, lease: Lease) -> Outcome:
    """Run a claimed command (status running, attempts counted)."""
    resuming_wait = command.waiting_for_id is not None
    max_attempts = settings.FOUNDRY_ACTOR_MAX_ATTEMPTS
    if command.attempts > max_attempts:
        error = AbandonedCommand(
            f"{command.name} on {type_name} instance {command.instance_id} was started "
            f"{max_attempts} times and each attempt lost its worker; giving up"
        )
        return _finish_failed(command, lease, error)
    needs_log = command.attempts > 1 or resuming_wait
    steps = list(command.steps.all()) if needs_log else []
    ctx = CommandContext(command=command, lease=lease, steps=steps)
    try:
        spec = actor_type(type_name).command_spec(command.name)
        payload = spec.parse(command.payload)
        with ctx:
            value = spec.handler(ctx, payload)
        ctx.check_log_consumed()
        result = to_json_value(value, what=f"result of {command.name}")
    except Suspend as suspend:
        return _suspend(command, lease, suspend, type_name=type_name)
    except LeaseLost:
        logger.warning("%s lost its lease while running %s", lease.owner, command)
        return Outcome.LEASE_LOST
    except Exception as exc:
        return _finish_failed(command, lease, exc)
    return _finish(
        command, lease, status=CommandStatus.SUCCEEDED, result=result,
        error_type="", error_message="", traceback="",
    )


def _finish_failed(command: Command, lease: Lease, exc: BaseException) -> Outcome:
    logger.info("%s on instance %s failed: %r", command, command.instance_id, exc)
    return _finish(
        command, lease, status=CommandStatus.FAILED, result=None,
        error_type=type(exc).__qualname__, error_message=str(exc),
        traceback="".join(traceback.format_exception(exc)),
    )


def _finish(command: Command, lease: Lease, **fields: Any) -> Outcome:
    # One statement: only the lease holder finishes, and only a running
    # command; autocommit, so after_finish runs once it is committed.
    finished = finish_command(
        command.pk, command.instance_id, lease.owner, finished_at=timezone.now(), **fields
    )
    if not finished:
        lease.lost = True
        return Outcome.LEASE_LOST
    outcome = {key: fields[key] for key in ("status", "result", "error_type", "error_message")}
    transaction.on_commit(lambda: after_finish(command, outcome))
    return Outcome.FINISHED


def after_finish(command: Command, outcome: dict[str, Any]) -> None:
    """Wake whoever waits: blocked senders, and a suspended parent command."""
    channel = reply_channel(command.reply_to) if command.reply_to else command_channel(command.pk)
    get_notifier().publish(channel, outcome)
    if command.parent_waits and command.caused_by_id:
        parent = (
            Command.objects.filter(pk=command.caused_by_id)
            .values_list("instance_id", "instance__actor_type")
            .first()
        )
        if parent is not None:
            ring(parent[0], parent[1])


def _suspend(command: Command, lease: Lease, suspend: Suspend, *, type_name: str) -> Outcome:
    def mark_waiting() -> None:
        lease.fence()
        Command.objects.filter(pk=command.pk).update(
            status=CommandStatus.WAITING,
            waiting_for_id=suspend.command_id,
            wait_deadline=suspend.deadline,
        )

    try:
        atomic_with_retry(mark_waiting)
    except LeaseLost:
        return Outcome.LEASE_LOST
    # A doorbell at the deadline, so a timed-out wait resumes on time even if
    # the awaited command never finishes.
    seconds = max(0.0, (suspend.deadline - timezone.now()).total_seconds()) + 0.05
    ring(command.instance_id, type_name, countdown=seconds)
    return Outcome.SUSPENDED


def sweep() -> int:
    """Ring every instance that has runnable work and no live lease."""
    now = timezone.now()
    candidates = (
        ActorInstance.objects.filter(commands__status__in=OPEN_STATUSES)
        .filter(Q(lease_owner="") | Q(lease_expires_at__lt=now) | Q(lease_expires_at=None))
        .values_list("id", "actor_type")
        .distinct()
    )
    rung = 0
    for instance_id, type_name in candidates:
        if not has_runnable(instance_id):
            continue
        try:
            ring(instance_id, type_name)
        except UnknownActorType:
            logger.error("instance %s has open commands of unknown type %r", instance_id, type_name)
            continue
        rung += 1
    return rung
