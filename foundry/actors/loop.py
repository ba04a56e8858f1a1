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
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
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
from foundry.actors.notify import HAND_BACK, command_channel, get_notifier
from foundry.actors.registry import actor_type
from foundry.actors.sql import (
    ACQUIRE_AND_CLAIM,
    CLAIM_HEAD,
    FINISH,
    FINISH_AND_CONTINUE,
    FINISH_AND_CONTINUE_WITH_STEP,
    HAS_RUNNABLE,
    command_from_row,
    db_datetime,
    db_json,
    execute,
    fetch_one,
    insert_step,
    on_postgresql,
    step_params,
)

logger = logging.getLogger(__name__)


class AbandonedCommand(ActorError):
    pass


class Outcome(enum.Enum):
    FINISHED = "finished"
    SUSPENDED = "suspended"
    LEASE_LOST = "lease lost"


@dataclass
class Ran:
    """How running a command ended, and what its last statement did next:
    on PostgreSQL, writing the outcome also claims the next command or
    lets go of an idle mailbox."""

    outcome: Outcome
    next_command: Command | None = None
    released: bool = False


def has_runnable(instance_id: int) -> bool:
    return fetch_one(HAS_RUNNABLE, [instance_id, db_datetime(timezone.now())]) is not None


class _DrainEnd(enum.Enum):
    RELEASED = "mailbox empty, lease released"
    BLOCKED = "head command waits on another command"
    SLICED = "time slice used up"
    LOST = "lease lost"


def drain(instance_id: int, type_name: str) -> None:
    """Run the instance's runnable commands while holding its lease.

    Whoever drains clears the doorbell count (``mailbox.ring_once``) before
    it stops and, if senders skipped their doorbell meanwhile (a count above
    one), reads the mailbox again: their commands were committed before they
    counted, so that read sees them."""
    actor_type(type_name)  # fails loudly for a type this worker does not know
    notifier = get_notifier()
    slice_ends = time.monotonic() + settings.FOUNDRY_ACTOR_DRAIN_SLICE_SECONDS
    looked_again = handed_back = False
    while True:
        lease = Lease(instance_id)
        leased, held_elsewhere, command = acquire_and_claim(lease)
        if not leased:
            if held_elsewhere:
                if handed_back:
                    return  # the holder reads again when it stops
                # Leave the holder a count that makes it read again, then
                # look once more: it may have stopped in between.
                notifier.count_doorbell(instance_id, by=HAND_BACK)
                handed_back = True
                continue
            if looked_again:
                return
            # Nothing may run: clear the count, and look once more if
            # senders counted on a read.
            looked_again = True
            if notifier.clear_doorbell(instance_id) < 2:
                return
            continue
        end: _DrainEnd | None = None
        try:
            with kept_alive(lease):
                end = _drain_leased(lease, type_name, slice_ends, command)
        finally:
            if end is not _DrainEnd.RELEASED:
                lease.release()
        # Clear the count, then read again in a new statement if senders
        # counted on it. (On PostgreSQL the statement that let go read an
        # older snapshot and can miss a command committed while it ran.)
        # Any other end reads again regardless: a doorbell that found the
        # lease held (an awaited command finishing, say) relies on it.
        skipped = notifier.clear_doorbell(instance_id) > 1
        looked_again = True
        if end is _DrainEnd.RELEASED and not skipped:
            return
        if not has_runnable(instance_id):
            return
        if end is _DrainEnd.SLICED or time.monotonic() > slice_ends:
            ring(instance_id, type_name)
            return
        # Otherwise (released, blocked, lost) try to take the lease again.


def _drain_leased(
    lease: Lease, type_name: str, slice_ends: float, command: Command | None
) -> _DrainEnd:
    while True:
        if command is None:
            command = claim_head(lease)
        if command is None:
            if lease.release_if_idle():
                return _DrainEnd.RELEASED
            # Open commands but none claimable: the head waits, or the lease
            # was taken over.
            return _DrainEnd.LOST if not lease.renew() else _DrainEnd.BLOCKED
        ran = run_command(type_name, command, lease, claim_until=slice_ends)
        if ran.outcome is Outcome.LEASE_LOST:
            return _DrainEnd.LOST
        if ran.released:
            return _DrainEnd.RELEASED
        command = ran.next_command
        if command is None and time.monotonic() > slice_ends:
            return _DrainEnd.SLICED


def acquire_and_claim(lease: Lease) -> tuple[bool, bool, Command | None]:
    """Take the lease (only if the head may run) and claim the head.

    Returns (taken, held by another live drainer, claimed command)."""
    if on_postgresql():
        row = fetch_one(ACQUIRE_AND_CLAIM, {
            "instance": lease.instance_id, "owner": lease.owner, "until": lease.until(),
            "now": timezone.now(),
        })
        assert row is not None  # the statement selects from a one-row table
        return bool(row["leased"]), bool(row["held_elsewhere"]), command_from_row(row)
    if not lease.acquire():
        return False, lease.held_elsewhere(), None
    return True, False, claim_head(lease)


def claim_head(lease: Lease) -> Command | None:
    """Claim the head in one statement, if it may run and the lease is
    still this drain's."""
    now = db_datetime(timezone.now())
    params = [now, lease.instance_id, now, lease.instance_id, lease.owner, lease.instance_id]
    if on_postgresql():
        row = fetch_one(CLAIM_HEAD, params)
        return command_from_row(row) if row is not None else None
    # SQLite hands back text for dates and JSON: let the ORM convert.
    rows = list(Command.objects.raw(CLAIM_HEAD, params))
    return rows[0] if rows else None


def run_command(type_name: str, command: Command, lease: Lease, *, claim_until: float) -> Ran:
    """Run a claimed command (status running, attempts counted). While
    ``time.monotonic()`` is before ``claim_until`` the outcome's statement
    may claim the next command."""
    resuming_wait = command.waiting_for_id is not None
    max_attempts = settings.FOUNDRY_ACTOR_MAX_ATTEMPTS
    if command.attempts > max_attempts:
        error = AbandonedCommand(
            f"{command.name} on {type_name} instance {command.instance_id} was started "
            f"{max_attempts} times and each attempt lost its worker; giving up"
        )
        return _finish_failed(command, lease, error, claim_until, None)
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
        return Ran(Outcome.LEASE_LOST)
    except Exception as exc:
        return _finish_failed(command, lease, exc, claim_until, ctx.take_unwritten_step())
    return _finish(
        command, lease, claim_until, ctx.take_unwritten_step(), status=CommandStatus.SUCCEEDED,
        result=result, error_type="", error_message="", traceback="",
    )


def _finish_failed(
    command: Command, lease: Lease, exc: BaseException, claim_until: float,
    unwritten_step: dict[str, Any] | None,
) -> Ran:
    logger.info("%s on instance %s failed: %r", command, command.instance_id, exc)
    return _finish(
        command, lease, claim_until, unwritten_step, status=CommandStatus.FAILED, result=None,
        error_type=type(exc).__qualname__, error_message=str(exc),
        traceback="".join(traceback.format_exception(exc)),
    )


def _finish(
    command: Command, lease: Lease, claim_until: float,
    unwritten_step: dict[str, Any] | None, **fields: Any,
) -> Ran:
    """Write the outcome (only the lease holder, only over a running
    command) and the handler's unwritten last step with it, then wake
    whoever waits, once it is committed."""
    outcome = {key: fields[key] for key in ("status", "result", "error_type", "error_message")}
    values = {**fields, "result": db_json(fields["result"]), "finished_at": timezone.now()}
    try:
        if on_postgresql():
            params = {
                **values, "command": command.pk, "instance": command.instance_id,
                "owner": lease.owner, "now": values["finished_at"],
                "claim_next": time.monotonic() < claim_until,
            }
            if unwritten_step is not None:
                params.update(step_params(**unwritten_step))
            row = fetch_one(
                FINISH_AND_CONTINUE if unwritten_step is None else FINISH_AND_CONTINUE_WITH_STEP,
                params,
            )
            assert row is not None  # the statement selects from a one-row table
            ran = Ran(Outcome.FINISHED, command_from_row(row), released=bool(row["released"]))
            finished = bool(row["finished"])
        else:
            if unwritten_step is not None:
                insert_step(**unwritten_step)
            finished = execute(FINISH, [
                values["status"], values["result"], values["error_type"],
                values["error_message"], values["traceback"],
                db_datetime(values["finished_at"]), command.pk, command.instance_id, lease.owner,
            ]) == 1
            # The claim counted the open commands (this one included) as it
            # saw them: when this was the last, try to let go in the same
            # round trip as the check; otherwise the drain claims the next.
            more_behind = getattr(command, "open_before_claim", 0) > 1
            ran = Ran(Outcome.FINISHED, released=finished and not more_behind
                      and lease.release_if_idle())
    except IntegrityError:
        # The unwritten step's row exists: another worker took over and
        # recorded it.
        finished = False
    if not finished:
        lease.lost = True
        return Ran(Outcome.LEASE_LOST)
    transaction.on_commit(lambda: after_finish(command, outcome))
    return ran


def after_finish(command: Command, outcome: dict[str, Any]) -> None:
    """Wake whoever waits: blocked senders, and a suspended parent command."""
    if command.reply_to:
        get_notifier().deliver_reply(command.reply_to, outcome)
    else:
        get_notifier().publish(command_channel(command.pk), outcome)
    if command.parent_waits and command.caused_by_id:
        parent = (
            Command.objects.filter(pk=command.caused_by_id)
            .values_list("instance_id", "instance__actor_type")
            .first()
        )
        if parent is not None:
            ring(parent[0], parent[1])


def _suspend(command: Command, lease: Lease, suspend: Suspend, *, type_name: str) -> Ran:
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
        return Ran(Outcome.LEASE_LOST)
    # A doorbell at the deadline, so a timed-out wait resumes on time even if
    # the awaited command never finishes.
    seconds = max(0.0, (suspend.deadline - timezone.now()).total_seconds()) + 0.05
    ring(command.instance_id, type_name, countdown=seconds)
    return Ran(Outcome.SUSPENDED)


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
