"""The person's side of tasks (user actor tables): what last drew their
attention to each task (the feed's order), their notifications, and per
session what they have read and the draft they were typing."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class TaskAttention(models.Model):
    """One row per person and task: the feed orders tasks by ``at``."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="+")
    org = models.CharField(max_length=100)
    task_id = models.CharField(max_length=100)
    at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "org", "task_id"],
                                               name="task_attention_unique")]
        indexes = [models.Index(fields=["user", "-at"], name="task_attention_feed")]

    def __str__(self) -> str:
        return f"{self.org}/{self.task_id} for {self.user_id} ({self.reason})"


class NotificationKind(models.TextChoices):
    AGENT_FINISHED = "agent_finished", "agent finished"
    AGENT_NEEDS_INPUT = "agent_needs_input", "agent needs input"
    AGENT_FAILED = "agent_failed", "agent failed"
    PR_MERGED = "pr_merged", "PR merged"
    PR_CLOSED = "pr_closed", "PR closed"


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="+")
    org = models.CharField(max_length=100)
    task_id = models.CharField(max_length=100)
    session_id = models.CharField(max_length=64, blank=True, default="")
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    message = models.CharField(max_length=500, blank=True, default="")
    # What happened, once: a stream consumer reading an event again after a
    # restart, or a replayed send, finds the notification already there.
    event_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "event_key"],
                                               name="notification_unique_event")]
        indexes = [models.Index(fields=["user", "-created_at"], name="notification_by_user"),
                   models.Index(fields=["user", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return f"{self.kind} on {self.org}/{self.task_id} for {self.user_id}"


class SessionReadState(models.Model):
    """How far the person has read a session (unread = its last sequence
    number minus this), and the message they were writing in it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="+")
    org = models.CharField(max_length=100)
    task_id = models.CharField(max_length=100)
    session_id = models.CharField(max_length=64)
    last_read_seq = models.PositiveIntegerField(default=0)
    draft = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "org", "session_id"],
                                               name="session_read_state_unique")]

    def __str__(self) -> str:
        return f"{self.org}/{self.session_id} read to {self.last_read_seq} by {self.user_id}"
