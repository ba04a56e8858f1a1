"""Operator actions (the inspector's buttons).

Each is one conditional write, so a command that changed state since the
operator looked at it is left alone and the action reports ``False``.

- **Retry** a failed command: it is queued again with its attempts reset
  (so a command abandoned after ``FOUNDRY_ACTOR_MAX_ATTEMPTS`` runs again),
  and its step log is cut at its first failed step: the steps before it
  replay, that step and everything after it run again. A retry therefore
  never meets ``HistoryDiverged`` because of what failed.
- **Cancel** a queued command: its waiters get ``CommandCancelled``.
- **Release the lease** of a stuck worker (alive, but never coming back):
  the instance can be drained again at once, and whatever the stuck worker
  commits afterwards is refused by the lease fence. On PostgreSQL this ends
  the stuck drain's database session, which is what holds the lease.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Min
from django.db.models.functions import Now

from foundry.actors import doorbell
from foundry.actors.liveness import lock_key
from foundry.actors.loop import notify_finished
from foundry.actors.models import ActorInstance, Command, CommandStatus, StepStatus
from foundry.actors.sql import fetch_one, on_postgresql


def retry_failed_command(command_id: int) -> bool:
    with transaction.atomic():
        requeued = Command.objects.filter(pk=command_id, status=CommandStatus.FAILED).update(
            status=CommandStatus.QUEUED, finished_at=None, result=None, attempts=0,
            error_type="", error_message="", traceback="",
        )
        if not requeued:
            return False
        command = Command.objects.select_related("instance").get(pk=command_id)
        first_failed = command.steps.filter(status=StepStatus.FAILED).aggregate(i=Min("index"))
        if first_failed["i"] is not None:
            command.steps.filter(index__gte=first_failed["i"]).delete()
        instance_id, type_name = command.instance_id, command.instance.actor_type
        transaction.on_commit(lambda: doorbell.ring_safely(
            lambda: doorbell.ring_once(instance_id, type_name), f"retry of {command}"
        ))
    return True


def cancel_queued_command(command_id: int) -> bool:
    """Cancel a command that has not started; its waiters get CommandCancelled."""
    with transaction.atomic():
        # Now(): the database's clock, like every time the runtime records.
        cancelled = Command.objects.filter(pk=command_id, status=CommandStatus.QUEUED).update(
            status=CommandStatus.CANCELLED, finished_at=Now(),
        )
        if not cancelled:
            return False
        command = Command.objects.get(pk=command_id)
        outcome = {"status": CommandStatus.CANCELLED.value, "result": None, "error_type": "",
                   "error_message": ""}
        transaction.on_commit(
            lambda: notify_finished(command, outcome, watched=command.watched)
        )
    return True


def release_lease(instance_id: int) -> bool:
    """Take the lease away from whichever drain holds it (see above)."""
    instance = ActorInstance.objects.filter(pk=instance_id).first()
    if instance is None or not instance.lease_owner:
        return False
    if on_postgresql():
        fetch_one(
            "SELECT pg_terminate_backend(pid) AS ended FROM pg_locks WHERE locktype = 'advisory'"
            " AND granted AND objsubid = 1 AND classid = (%(key)s::bigint >> 32)::oid"
            " AND objid = (%(key)s::bigint & 4294967295)::oid", {"key": lock_key(instance_id)},
        )
    released = ActorInstance.objects.filter(
        pk=instance_id, lease_owner=instance.lease_owner
    ).update(lease_owner="", lease_taken_at=None)
    if released:
        transaction.on_commit(lambda: doorbell.ring_safely(
            lambda: doorbell.ring_pending(instance_id, instance.actor_type),
            f"doorbell after releasing {instance}",
        ))
    return bool(released)
