"""The audit log: one append-only table, written only through
``audit_log.append`` (no command loop: an entry is a plain insert)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class AuditKind(models.TextChoices):
    SIGN_IN = "sign_in", "sign-in"
    SIGN_OUT = "sign_out", "sign-out"
    SIGN_IN_FAILED = "sign_in_failed", "sign-in failed"
    INSTALLATION_CREATED = "installation_created", "installation created"
    INSTALLATION_DELETED = "installation_deleted", "installation deleted"
    INSTALLATION_SUSPENDED = "installation_suspended", "installation suspended"
    INSTALLATION_UNSUSPENDED = "installation_unsuspended", "installation unsuspended"
    SYNC_STARTED = "sync_started", "sync started"
    SYNC_SUCCEEDED = "sync_succeeded", "sync succeeded"
    SYNC_FAILED = "sync_failed", "sync failed"
    MEMBERSHIP_GAINED = "membership_gained", "membership gained"
    MEMBERSHIP_LOST = "membership_lost", "membership lost"
    TASK_CREATED = "task_created", "task created"
    OWNER_CHANGED = "owner_changed", "owner changed"
    BRANCH_PUSHED = "branch_pushed", "branch pushed"
    PR_OPENED = "pr_opened", "PR opened"
    SANDBOX_DESTROYED = "sandbox_destroyed", "sandbox destroyed"


SYSTEM = "system"


class AuditEntry(models.Model):
    at = models.DateTimeField(default=timezone.now)
    # A person's GitHub login, or "system".
    actor = models.CharField(max_length=100)
    org = models.CharField(max_length=100, blank=True, default="")
    kind = models.CharField(max_length=40, choices=AuditKind.choices)
    target = models.CharField(max_length=300, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["org", "-at"], name="audit_by_org"),
            models.Index(fields=["kind", "-at"], name="audit_by_kind"),
        ]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.kind} {self.target}"
