"""Tables of the actor runtime: instances, their mailbox, the step log.

The runtime is their only writer; the admin reads them as the inspector.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone


class ActorInstance(models.Model):
    actor_type = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    created_input = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The lease: which drain holds this mailbox now, since when (the
    # database's clock). Whether a lease is live is not a matter of time:
    # it lives as long as its holder does (see ``liveness.py``). Neither
    # column is indexed, so taking and releasing a lease are HOT updates;
    # the sweeper finds instances through their open commands.
    lease_owner = models.CharField(max_length=128, blank=True, default="")
    lease_taken_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["actor_type", "key"], name="actor_instance_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.actor_type}:{self.key}"


class CommandStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


OPEN_STATUSES = (CommandStatus.QUEUED, CommandStatus.RUNNING, CommandStatus.WAITING)
FINISHED_STATUSES = (CommandStatus.SUCCEEDED, CommandStatus.FAILED, CommandStatus.CANCELLED)


class Command(models.Model):
    """A row of an instance's mailbox. Order within an instance is by id."""

    instance = models.ForeignKey(ActorInstance, on_delete=models.CASCADE, related_name="commands")
    name = models.CharField(max_length=128)
    payload = models.JSONField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=CommandStatus.choices, default=CommandStatus.QUEUED
    )
    result = models.JSONField(null=True, blank=True)
    error_type = models.CharField(max_length=255, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    traceback = models.TextField(blank=True, default="")
    # Runs that started this command; a resume after a crash adds one, a
    # resume after a durable wait does not.
    attempts = models.PositiveIntegerField(default=0)
    # These two references are NULL for most commands: their indexes are
    # partial (below), so the hot path neither writes nor carries entries
    # for them. (Every claim and outcome updates the indexed ``status``, so
    # those updates are not HOT and touch every index of the table.)
    caused_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="caused",
        db_index=False,
    )
    # The sender is a handler suspended on this command: finishing it rings
    # the sender's doorbell.
    parent_waits = models.BooleanField(default=False)
    # A blocked sender subscribed to this token before sending; the outcome
    # is published there (empty: published on the command's own channel).
    reply_to = models.CharField(max_length=64, blank=True, default="")
    # Someone listens on the command's channel (``CommandRef.wait``): only
    # then does finishing it publish there, a Redis round trip saved for
    # every command nobody waits on.
    watched = models.BooleanField(default=False)
    waiting_for = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )
    wait_deadline = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The head of a mailbox: the oldest open command of an instance.
            models.Index(
                fields=["instance", "id"],
                name="actor_command_open",
                condition=Q(status__in=["queued", "running", "waiting"]),
            ),
            models.Index(
                fields=["caused_by"], name="actor_command_caused_by",
                condition=Q(caused_by__isnull=False),
            ),
            models.Index(
                fields=["waiting_for"], name="actor_command_waiting_for",
                condition=Q(waiting_for__isnull=False),
            ),
            # History retention finds old finished commands here, oldest
            # first per status (``retention.py``, which repeats the
            # condition verbatim for SQLite). Partial: claims, which set a
            # command running, add no entry; only an outcome does.
            models.Index(
                fields=["status", "finished_at"],
                name="actor_command_finished",
                condition=Q(status__in=[s.value for s in FINISHED_STATUSES]),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class StepStatus(models.TextChoices):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Step(models.Model):
    """One recorded step of a command: replayed, never re-run, once succeeded."""

    # No index of its own: the unique (command, index) constraint serves.
    command = models.ForeignKey(
        Command, on_delete=models.CASCADE, related_name="steps", db_index=False
    )
    index = models.PositiveIntegerField()
    name = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=StepStatus.choices)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    error_type = models.CharField(max_length=255, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    traceback = models.TextField(blank=True, default="")
    # How to raise the recorded error again on replay (class path and
    # arguments); empty when the error replays as ``StepFailed``.
    error_data = models.JSONField(null=True, blank=True)
    # The command attempt that wrote this row: a resumed command shows where
    # the new attempt picked up.
    attempt = models.PositiveIntegerField(default=1)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["command", "index"], name="actor_step_unique_index")
        ]
        ordering = ["command_id", "index"]

    def __str__(self) -> str:
        return f"step {self.index} {self.name}"

    @property
    def duration(self) -> timedelta:
        return self.finished_at - self.started_at


class WorkerPresence(models.Model):
    """A worker process that consumes actor queues, as it last said so.

    Each worker process (``celery worker``, or the embedded worker of
    ``run_embedded``) writes its row when it is ready and renews
    ``last_seen_at`` every ``FOUNDRY_WORKER_PRESENCE_SECONDS`` from a thread
    (``presence.py``); a row not renewed for three periods is stale. It is
    how a management command in another process learns that someone will
    run what it sends: Celery's broadcast cannot see the embedded worker.
    """

    hostname = models.CharField(max_length=255)  # Celery's node name, e.g. github-data@host
    pid = models.PositiveIntegerField()
    queues = models.JSONField(default=list)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hostname", "pid"], name="worker_presence_unique")
        ]
        verbose_name_plural = "worker presence"

    def __str__(self) -> str:
        return f"{self.hostname} (pid {self.pid})"
