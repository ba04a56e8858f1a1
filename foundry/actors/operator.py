"""Operator actions on commands (the inspector's buttons).

Each is one conditional UPDATE, so a command that changed state since the
operator looked at it is left alone and the action reports ``False``.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from foundry.actors.dbretry import atomic_with_retry
from foundry.actors.loop import after_finish
from foundry.actors.mailbox import ring_once
from foundry.actors.models import Command, CommandStatus, StepStatus


def retry_failed_command(command_id: int) -> bool:
    """Queue a failed command again: its succeeded steps replay, the failed
    step runs again."""
    return atomic_with_retry(lambda: _retry(command_id))


def _retry(command_id: int) -> bool:
    command = Command.objects.select_related("instance").filter(pk=command_id).first()
    if command is None:
        return False
    requeued = Command.objects.filter(pk=command_id, status=CommandStatus.FAILED).update(
        status=CommandStatus.QUEUED, finished_at=None, result=None,
        error_type="", error_message="", traceback="",
    )
    if not requeued:
        return False
    command.steps.filter(status=StepStatus.FAILED).delete()
    type_name = command.instance.actor_type
    transaction.on_commit(lambda: ring_once(command.instance_id, type_name))
    return True


def cancel_queued_command(command_id: int) -> bool:
    """Cancel a command that has not started; its waiters get CommandCancelled."""
    return atomic_with_retry(lambda: _cancel(command_id))


def _cancel(command_id: int) -> bool:
    cancelled = Command.objects.filter(pk=command_id, status=CommandStatus.QUEUED).update(
        status=CommandStatus.CANCELLED, finished_at=timezone.now()
    )
    if not cancelled:
        return False
    command = Command.objects.get(pk=command_id)
    outcome = {
        "status": CommandStatus.CANCELLED, "result": None, "error_type": "", "error_message": "",
    }
    transaction.on_commit(lambda: after_finish(command, outcome))
    return True
