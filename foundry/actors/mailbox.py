"""Sending commands: the mailbox insert, the doorbell, waiting for results.

Promises: ``send`` validates the payload, then inserts the command row
(committed synchronously); once it returns, the command is durable and will
run. The doorbell (a Celery message) is only rung after the insert commits:
by a blocked sender always, by a fire-and-forget sender only when it is the
first to count at the instance's doorbell since the last drain cleared the
count (``ring_once``); a drain reads the mailbox again before it stops when
others counted. Fire-and-forget sends outside handlers count and ring from a
thread of the sending process (``_DoorbellRinger``), so a burst of sends
does not wait on Redis and the broker for each.

Limits: Celery acknowledges a doorbell before running it, so a killed
worker can drop one (and a killed sender can die before its thread rang),
and its count then keeps later senders from ringing for up to
``notify.DOORBELL_COUNT_SECONDS``; the mailbox row and the sweeper carry
durability, never the broker.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from foundry.actors.context import current_context, outcome_of, unwrap_outcome
from foundry.actors.errors import ActorError, CommandTimeout, WaitNotAllowed
from foundry.actors.models import FINISHED_STATUSES, Command
from foundry.actors.notify import command_channel, get_notifier
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
    if wait:
        _check_no_deadlock(ctx.command, handle)
    command_id = ctx.step(
        f"send {name} to {handle}",
        lambda: enqueue(handle, name, payload, caused_by=ctx.command_id, parent_waits=wait),
    )
    if wait:
        return ctx.wait_for(command_id, timeout=timeout)
    return CommandRef(command_id, str(handle), name)


def _check_no_deadlock(sender: Command, target: ActorHandle) -> None:
    """Refuse waits that could never finish: on oneself, or around a cycle."""
    command: Command | None = sender
    while command is not None:
        if command.instance_id == target.instance_id:
            who = "its own actor" if command is sender else "an actor that waits on it"
            raise WaitNotAllowed(
                f"{sender.name} (command {sender.pk}) would wait on {who} {target}: "
                "a command cannot wait on a mailbox that is blocked behind it"
            )
        if not (command.parent_waits and command.caused_by_id):
            return
        command = Command.objects.filter(pk=command.caused_by_id).first()


def enqueue(
    handle: ActorHandle,
    name: str,
    payload: Any,
    *,
    caused_by: int | None,
    parent_waits: bool = False,
    reply_to: str = "",
) -> int:
    command_id = insert_command(
        instance_id=handle.instance_id, name=name, payload=payload, caused_by=caused_by,
        parent_waits=parent_waits, reply_to=reply_to, enqueued_at=timezone.now(),
    )
    type_name = handle.actor_type.name
    if reply_to:
        # A blocked sender: the instance is most likely idle, and counting at
        # the doorbell would add a round trip to the path the sender waits on.
        transaction.on_commit(lambda: ring(handle.instance_id, type_name))
    elif caused_by is None:
        transaction.on_commit(lambda: _doorbell_ringer.ring_once(handle.instance_id, type_name))
    else:
        # Sent by a handler: ring before the handler goes on, so that this
        # doorbell reaches the broker ahead of the handler's own (a durable
        # wait's deadline doorbell, say).
        transaction.on_commit(lambda: ring_once(handle.instance_id, type_name))
    return command_id


def ring(instance_id: int, type_name: str, *, countdown: float | None = None) -> None:
    from foundry.actors.registry import actor_type
    from foundry.actors.tasks import drain

    queue = actor_type(type_name).queue
    drain.apply_async((instance_id, type_name), queue=queue, countdown=countdown)


class _DoorbellRinger:
    """Rings the doorbells of fire-and-forget sends made outside handlers
    from a thread of the sending process.

    The send has returned once its command is committed; the doorbell only
    shortens the wait for the sweeper, so a burst of sends need not wait on
    Redis and the broker for each one: the thread rings while the next
    insert waits on its commit. Rung in order; what is still queued at exit
    is rung then. A doorbell that fails is logged and left to the sweeper."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[int, str]] = queue.SimpleQueue()
        self._pid = 0

    def ring_once(self, instance_id: int, type_name: str) -> None:
        with self._lock:
            # A forked child (prefork worker) inherits the object, not the thread.
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._queue = queue.SimpleQueue()
                threading.Thread(
                    target=self._run, args=(self._queue,), name="foundry-doorbells", daemon=True
                ).start()
                atexit.register(self._ring_queued, self._queue)
        self._queue.put((instance_id, type_name))

    def _run(self, pending: queue.SimpleQueue[tuple[int, str]]) -> None:
        while True:
            self._ring(*pending.get())

    def _ring_queued(self, pending: queue.SimpleQueue[tuple[int, str]]) -> None:
        while True:
            try:
                item = pending.get_nowait()
            except queue.Empty:
                return
            self._ring(*item)

    def _ring(self, instance_id: int, type_name: str) -> None:
        try:
            ring_once(instance_id, type_name)
        except Exception:
            logger.exception(
                "doorbell of %s instance %s failed; the sweeper will ring it", type_name,
                instance_id,
            )


_doorbell_ringer = _DoorbellRinger()


def ring_once(instance_id: int, type_name: str) -> None:
    """Count this sender at the instance's doorbell; ring if it is the
    first since the count was last cleared. The others count on a read:
    every drain clears the count before it stops and, when it found more
    than one, reads the mailbox again, so their commands (committed before
    they counted) are seen."""
    if get_notifier().count_doorbell(instance_id) == 1:
        ring(instance_id, type_name)


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
    """Block the calling thread (never a handler) until ``ref`` finishes."""
    with get_notifier().subscribe(command_channel(ref.id)) as subscription:
        return _await(ref, subscription, timeout=timeout, read_first=True)


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
            raise CommandTimeout(
                actor_key=ref.actor_key, command_name=ref.name, command_id=ref.id,
                timeout=seconds,
            )
        message = subscription.wait(min(remaining, recheck))
        if message is not None:
            return unwrap_outcome(_outcome(ref, message))
        read = True
