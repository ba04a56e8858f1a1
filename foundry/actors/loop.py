"""The command loop: drain one instance's mailbox, one command at a time.

Promises:

- Commands of one instance run one at a time (the lease) and in id order
  (the head of the mailbox is its oldest open command). A command that is
  ``running`` when a drain takes the lease was interrupted (its drain
  died): it is resumed, and its recorded steps replay.
- A command that waits on another is ``waiting``: it stays at the head, so
  later commands of its instance wait behind it, but no worker is held.
- A drain gives its worker back after ``FOUNDRY_ACTOR_DRAIN_SLICE_SECONDS``
  and rings again, so one busy instance cannot starve the rest.
- A command whose every attempt lost its worker is failed as
  ``AbandonedCommand`` after ``FOUNDRY_ACTOR_MAX_ATTEMPTS`` attempts rather
  than retried forever. Attempts count only real losses: a worker that is
  paused or stuck keeps its lease (see ``liveness.py``).
- Failures of a handler fail its command, never the loop: the instance goes
  on with its next command. Notifications after a commit (replies,
  doorbells) that fail are logged and left to the sweeper.
"""

from __future__ import annotations

import enum
import logging
import time
import traceback
from functools import partial
from typing import Any

from django.conf import settings

from foundry.actors import doorbell, transitions
from foundry.actors.context import CommandContext, Suspend
from foundry.actors.errors import AbandonedCommand, LeaseLost, UnknownActorType
from foundry.actors.jsonvalue import to_json_value
from foundry.actors.liveness import Lease
from foundry.actors.models import Command, CommandStatus, Step
from foundry.actors.registry import actor_type
from foundry.actors.replies import Delivery, deliver, outcome_delivery
from foundry.actors.transitions import Finished, Outcome

logger = logging.getLogger(__name__)


class Stopped(enum.Enum):
    """How running a command ended when it did not finish."""

    SUSPENDED = "suspended"
    LEASE_LOST = "lease lost"


class _DrainEnd(enum.Enum):
    RELEASED = "mailbox empty, lease released"
    BLOCKED = "head command waits on another command"
    SLICED = "time slice used up"
    LOST = "lease lost"


def _clear_doorbell(instance_id: int, delivery: Delivery | None = None) -> int:
    try:
        return doorbell.clear(instance_id, delivery)
    except Exception:
        # Without the count, assume senders relied on a re-read.
        logger.exception("clearing the doorbell count of instance %s failed", instance_id)
        return 2


def drain_many(instance_ids: list[int], type_name: str) -> None:
    """One doorbell for several instances: drain them one after the other
    within one time slice; those left when it is over get a doorbell of
    their own (each was counted for this doorbell: it must see them)."""
    slice_ends = time.monotonic() + settings.FOUNDRY_ACTOR_DRAIN_SLICE_SECONDS
    failure: Exception | None = None
    for i, instance_id in enumerate(instance_ids):
        if i and time.monotonic() > slice_ends:
            rest = instance_ids[i:]
            doorbell.ring_safely(
                partial(doorbell.ring, rest, type_name), f"doorbell of instances {rest}"
            )
            break
        try:
            drain(instance_id, type_name, slice_ends=slice_ends)
        except Exception as exc:
            # The others were counted for this doorbell too: drain them,
            # then fail the task with the first error.
            logger.exception("draining %s instance %s failed", type_name, instance_id)
            failure = failure or exc
    if failure is not None:
        raise failure


def drain(instance_id: int, type_name: str, *, slice_ends: float | None = None) -> None:
    """Run the instance's runnable commands while holding its lease.

    Whoever drains clears the doorbell count before it stops and, if
    senders skipped their doorbell meanwhile (a count above one), reads the
    mailbox again: their commands were committed before they counted, so
    that read sees them."""
    actor_type(type_name)  # fails loudly for a type this worker does not know
    if slice_ends is None:
        slice_ends = time.monotonic() + settings.FOUNDRY_ACTOR_DRAIN_SLICE_SECONDS
    looked_again = handed_back = False
    while True:
        lease = Lease(instance_id)
        taken = transitions.take(lease)
        if not taken.taken:
            if taken.held_elsewhere:
                if handed_back:
                    return  # the holder reads again when it stops
                # Leave the holder a count that makes it read again, then
                # look once more: it may have stopped in between.
                doorbell.ring_safely(
                    lambda: doorbell.hand_back(instance_id), f"hand-back on {instance_id}"
                )
                handed_back = True
                continue
            if looked_again:
                return
            # Nothing may run: clear the count, and look once more if
            # senders counted on a read.
            looked_again = True
            if _clear_doorbell(instance_id) < 2:
                return
            continue
        end: _DrainEnd | None = None
        last: list[Delivery] = []
        try:
            end = _drain_leased(lease, type_name, slice_ends, taken.command, last)
        finally:
            if lease.held:
                transitions.release(lease)
        # Clear the count, then read again in a new statement if senders
        # counted on it. (The statement that let go read an older snapshot
        # and can miss a command committed while it ran.) Any other end
        # reads again regardless: a doorbell that found the lease held (an
        # awaited command finishing, say) relies on it.
        # The last finished command's waiters hear in the same round trip.
        skipped = _clear_doorbell(instance_id, last[0] if last else None) > 1
        looked_again = True
        if end is _DrainEnd.RELEASED and not skipped:
            return
        if not transitions.has_runnable(instance_id):
            return
        if end is _DrainEnd.SLICED or time.monotonic() > slice_ends:
            doorbell.ring_safely(
                lambda: doorbell.ring(instance_id, type_name), f"next slice of {instance_id}"
            )
            return
        # Otherwise (released, blocked, lost) try to take the lease again.


def _drain_leased(
    lease: Lease, type_name: str, slice_ends: float, command: Command | None,
    last: list[Delivery],
) -> _DrainEnd:
    """Run commands until the mailbox is empty, blocked, lost or the slice
    is over. Waiters of each finished command are told at once, except the
    last one's when the drain ends with it: that goes into ``last``, for
    the drain to send with its doorbell clear."""
    while True:
        try:
            if command is None:
                command = transitions.claim_head(lease)
            if command is None:
                # Open commands but none claimable (the head waits), or none.
                released = transitions.release_if_idle(lease)
                return _DrainEnd.RELEASED if released else _DrainEnd.BLOCKED
        except LeaseLost as lost:
            logger.warning("%s stops draining %s: %s", lease.owner, lease.instance_id, lost)
            return _DrainEnd.LOST
        ran = run_command(type_name, command, lease, claim_until=slice_ends)
        if ran is Stopped.LEASE_LOST:
            return _DrainEnd.LOST
        if ran is Stopped.SUSPENDED:
            command = None
            continue
        if ran.released:
            if ran.delivery is not None:
                last.append(ran.delivery)
            return _DrainEnd.RELEASED
        if ran.delivery is not None:
            doorbell.ring_safely(partial(deliver, ran.delivery), "outcome for its waiters")
        command = ran.next_command
        if command is None and time.monotonic() > slice_ends:
            return _DrainEnd.SLICED


def run_command(
    type_name: str, command: Command, lease: Lease, *, claim_until: float
) -> Finished | Stopped:
    """Run a claimed command (status running, attempts counted). While
    ``time.monotonic()`` is before ``claim_until`` writing the outcome may
    claim the next command too."""
    max_attempts = settings.FOUNDRY_ACTOR_MAX_ATTEMPTS
    ctx: CommandContext | None = None
    try:
        if command.attempts > max_attempts:
            raise AbandonedCommand(
                f"{command.name} on {type_name} instance {command.instance_id} was started "
                f"{max_attempts} times and each attempt lost its worker; giving up"
            )
        kind = actor_type(type_name)
        steps = (
            list(Step.objects.filter(command_id=command.pk).order_by("index"))
            if getattr(command, "has_log", True) else []
        )
        ctx = CommandContext(command=command, lease=lease, steps=steps, actor_type=kind)
        spec = kind.command_spec(command.name)
        payload = spec.parse(command.payload)
        with ctx:
            value = spec.handler(ctx, payload)
        ctx.check_log_consumed()
        outcome = Outcome(
            CommandStatus.SUCCEEDED, result=to_json_value(value, what=f"result of {command.name}")
        )
    except Suspend as suspend:
        # A doorbell at the deadline, so a timed-out wait resumes on time even
        # if the awaited command never finishes.
        seconds, instance_id = max(0.0, suspend.seconds_left) + 0.05, command.instance_id
        doorbell.ring_safely(
            lambda: doorbell.ring(instance_id, type_name, countdown=seconds),
            f"deadline doorbell of {command}",
        )
        return Stopped.SUSPENDED
    except LeaseLost as lost:
        logger.warning("%s stops %s: %s", lease.owner, command, lost)
        return Stopped.LEASE_LOST
    except Exception as exc:
        logger.info("%s on instance %s failed: %r", command, command.instance_id, exc)
        outcome = Outcome(
            CommandStatus.FAILED, error_type=type(exc).__qualname__, error_message=str(exc),
            traceback="".join(traceback.format_exception(exc)),
        )
    try:
        finished = transitions.finish(
            lease, command, outcome, unwritten=ctx.take_unwritten_step() if ctx else None,
            claim_next=time.monotonic() < claim_until,
        )
    except LeaseLost as lost:
        logger.warning("%s could not finish %s: %s", lease.owner, command, lost)
        return Stopped.LEASE_LOST
    finished.delivery = outcome_delivery(
        reply_to=command.reply_to, command_id=command.pk, outcome=outcome.message(),
        watched=finished.watched,
    )
    wake_parent(command)
    return finished


def notify_finished(command: Command, outcome: dict[str, Any], *, watched: bool) -> None:
    """Wake whoever waits: a blocked sender (its reply box), waiters on the
    command's channel (when any said so), a suspended parent command.
    Called after the outcome committed; failures are logged, never raised
    (waiters re-read the row, the sweeper rings a parent that was missed)."""
    delivery = outcome_delivery(
        reply_to=command.reply_to, command_id=command.pk, outcome=outcome, watched=watched
    )
    if delivery is not None:
        doorbell.ring_safely(partial(deliver, delivery), f"outcome of {command} for its waiters")
    wake_parent(command)


def wake_parent(command: Command) -> None:
    """A suspended parent waits on this command: ring its doorbell."""
    parent_id = command.caused_by_id
    if command.parent_waits and parent_id is not None:
        def ring_parent() -> None:
            parent = (
                Command.objects.filter(pk=parent_id)
                .values_list("instance_id", "instance__actor_type")
                .first()
            )
            if parent is not None:
                doorbell.ring(parent[0], parent[1])

        doorbell.ring_safely(ring_parent, f"wake-up of the command waiting on {command}")


def sweep() -> int:
    """Ring every instance whose head may run, that no live drain holds,
    and that has no doorbell on its way (unless its drain died holding it)."""
    rung = 0
    for found in transitions.unattended():
        try:
            actor_type(found.type_name)
        except UnknownActorType:
            logger.error(
                "instance %s has open commands of unknown type %r", found.instance_id,
                found.type_name,
            )
            continue
        what = f"sweeper's doorbell of {found.type_name} instance {found.instance_id}"
        if found.orphaned:
            doorbell.ring_safely(
                partial(doorbell.ring_pending, found.instance_id, found.type_name), what
            )
        elif not doorbell.ring_safely(
            partial(doorbell.ring_once, found.instance_id, found.type_name), what
        ):
            continue  # a doorbell is on its way
        rung += 1
    return rung
