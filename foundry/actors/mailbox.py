"""Sending commands: the mailbox insert, then the doorbell; waiting for results.

Promises: ``send`` validates the payload, then inserts the command row
(committed synchronously); once it returns, the command is durable and will
run. The doorbell is only rung after the insert commits (see
``doorbell.py`` for who rings and when), and a failure to ring never fails
the send: the sweeper rings what was missed.

A blocked sender opens its reply box before sending, so the outcome cannot
be delivered unheard; it re-reads the command's row every
``FOUNDRY_ACTOR_WAIT_RECHECK_SECONDS`` in case a reply was lost.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction

from foundry.actors import doorbell
from foundry.actors.context import current_context, outcome_of, unwrap_outcome
from foundry.actors.errors import ActorError, CommandTimeout, WaitNotAllowed
from foundry.actors.models import FINISHED_STATUSES, OPEN_STATUSES, Command
from foundry.actors.replies import command_channel, get_notifier
from foundry.actors.sql import insert_command

if TYPE_CHECKING:
    from foundry.actors.handles import ActorHandle

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommandRef:
    """A sent command: enough to wait for it or to find it in the inspector."""

    id: int
    actor_key: str
    name: str

    def wait(self, timeout: float | None = None) -> Any:
        return wait_for_command(self, timeout=timeout)


def send(
    handle: ActorHandle, name: str, body: Any, *, wait: bool, timeout: float | None
) -> Any:
    spec = handle.actor_type.command_spec(name)
    payload = spec.validate(body)
    ctx = current_context()
    if ctx is None:
        if wait and connection.in_atomic_block:
            raise WaitNotAllowed(
                f"waiting for {name} on {handle} inside an open transaction would never "
                "end: the command is not visible to workers until it commits"
            )
        if wait:
            return _send_and_wait(handle, name, payload, timeout=timeout)
        return CommandRef(enqueue(handle, name, payload, caused_by=None), str(handle), name)
    if ctx.in_step:
        if wait:
            raise WaitNotAllowed(
                f"waiting for {name} on {handle} inside a step: send inside the step, "
                "wait from the handler body"
            )
        return CommandRef(
            enqueue(handle, name, payload, caused_by=ctx.command_id), str(handle), name
        )
    if wait and handle.instance_id == ctx.instance_id:
        # Refused before sending: the command would sit in this mailbox behind
        # the one waiting for it. (Longer cycles are refused when the wait
        # starts, see ``transitions.find_cycle``.)
        raise WaitNotAllowed(
            f"{ctx.command.name} (command {ctx.command_id}) would wait on its own actor "
            f"{handle}: a command cannot wait on a mailbox that is blocked behind it"
        )
    command_id = ctx.step(
        f"send {name} to {handle}",
        lambda: enqueue(handle, name, payload, caused_by=ctx.command_id, parent_waits=wait),
    )
    if wait:
        return ctx.wait_for(command_id, timeout=timeout)
    return CommandRef(command_id, str(handle), name)


def enqueue(
    handle: ActorHandle,
    name: str,
    payload: Any,
    *,
    caused_by: int | None,
    parent_waits: bool = False,
    reply_to: str = "",
) -> int:
    instance_id, type_name = handle.instance_id, handle.actor_type.name
    command_id = insert_command(
        instance_id=instance_id, name=name, payload=payload, caused_by=caused_by,
        parent_waits=parent_waits, reply_to=reply_to,
    )
    what = f"doorbell of {type_name} instance {instance_id} (command {command_id})"
    if reply_to:
        # A blocked sender: the instance is most likely idle, and counting at
        # the doorbell would add a round trip to the path the sender waits on.
        transaction.on_commit(
            lambda: doorbell.ring_safely(lambda: doorbell.ring(instance_id, type_name), what)
        )
    elif caused_by is None:
        transaction.on_commit(lambda: doorbell.ring_later(instance_id, type_name))
    else:
        # Sent by a handler: ring before the handler goes on, so that this
        # doorbell reaches the broker ahead of the handler's own (a durable
        # wait's deadline doorbell, say).
        transaction.on_commit(
            lambda: doorbell.ring_safely(lambda: doorbell.ring_once(instance_id, type_name), what)
        )
    return command_id


def _outcome(ref: CommandRef, message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "command_id": ref.id, "command_name": ref.name, "actor_key": ref.actor_key}


def _send_and_wait(
    handle: ActorHandle, name: str, payload: Any, *, timeout: float | None
) -> Any:
    """Ask for a reply box first, then send: the outcome cannot be
    delivered unheard, so the normal path reads no row at all."""
    token = uuid.uuid4().hex
    with get_notifier().await_reply(token) as subscription:
        command_id = enqueue(handle, name, payload, caused_by=None, reply_to=token)
        ref = CommandRef(command_id, str(handle), name)
        return _await(ref, subscription, timeout=timeout, read_first=False)


def wait_for_command(ref: CommandRef, *, timeout: float | None) -> Any:
    """Block the calling thread (never a handler) until ``ref`` finishes.

    Subscribe, then mark the command watched, then read it: a command that
    finishes after the mark publishes its outcome on the channel (the mark
    and the outcome update the same row, so one sees the other); one that
    finished before it is found by the read."""
    with get_notifier().subscribe(command_channel(ref.id)) as subscription:
        Command.objects.filter(pk=ref.id, status__in=OPEN_STATUSES).update(watched=True)
        return _await(ref, subscription, timeout=timeout, read_first=True)


def _make_durable(ref: CommandRef) -> None:
    """Before a blocked sender gives up: a synchronous commit (this update)
    flushes the WAL of the command's insert, which may have committed
    asynchronously (``sql.insert_command``), so "still in the mailbox"
    holds. A command that is gone was lost with a database crash."""
    if not Command.objects.filter(pk=ref.id).update(watched=True):
        raise ActorError(
            f"command {ref.id} ({ref.name} on {ref.actor_key}) is gone: the database lost it "
            "(a crash before it was flushed) or it was pruned; send it again"
        )


def _await(ref: CommandRef, subscription: Any, *, timeout: float | None, read_first: bool) -> Any:
    seconds = timeout if timeout is not None else settings.FOUNDRY_ACTOR_WAIT_SECONDS
    deadline = time.monotonic() + seconds
    recheck = settings.FOUNDRY_ACTOR_WAIT_RECHECK_SECONDS
    read = read_first
    while True:
        if read:
            command = Command.objects.filter(pk=ref.id).first()
            if command is None:
                raise ActorError(f"command {ref.id} ({ref.name} on {ref.actor_key}) was deleted")
            if command.status in FINISHED_STATUSES:
                return unwrap_outcome(outcome_of(command, ref.actor_key))
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            _make_durable(ref)
            raise CommandTimeout(
                actor_key=ref.actor_key, command_name=ref.name, command_id=ref.id,
                timeout=seconds,
            )
        try:
            message = subscription.wait(min(remaining, recheck))
        except Exception:
            # Redis went away: the row is the truth; read it after a pause.
            logger.warning("waiting for %s: no reply channel; reading its row", ref, exc_info=True)
            message = None
            time.sleep(min(max(remaining, 0.0), recheck))
        if message is not None:
            return unwrap_outcome(_outcome(ref, message))
        read = True
