"""The organization actor's tables: profile, task index, task summaries.

The task index says where a task lives (repository, branch, pull request);
the summaries are the sidebar's projection. A pull request synced from
GitHub becomes a *virtual* task here: rows, not a task actor.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class InstallationStatus(models.TextChoices):
    """The GitHub App on the account: never seen there, installed (syncs and
    webhooks flow), suspended by the account (reconnect required), or
    uninstalled after having been installed (install again)."""

    NOT_INSTALLED = "not_installed", "not installed"
    INSTALLED = "installed"
    SUSPENDED = "suspended"
    REMOVED = "removed"


class OrganizationKind(models.TextChoices):
    ORGANIZATION = "organization"
    # A person's own account: org id ``personal-<login>``.
    PERSONAL = "personal"


class OrgSyncStatus(models.TextChoices):
    NEVER = "never"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Organization(models.Model):
    """The profile: one row per organization id (unique, so a singleton
    enforced by the database)."""

    org_id = models.CharField(max_length=100, unique=True)
    login = models.CharField(max_length=100)
    name = models.CharField(max_length=200, blank=True, default="")
    avatar_url = models.URLField(max_length=500, blank=True, default="")
    kind = models.CharField(
        max_length=16, choices=OrganizationKind.choices, default=OrganizationKind.ORGANIZATION
    )
    installation_id = models.BigIntegerField(null=True, blank=True)
    installation_status = models.CharField(
        max_length=32, choices=InstallationStatus.choices,
        default=InstallationStatus.NOT_INSTALLED,
    )
    connected_account = models.CharField(max_length=100, blank=True, default="")
    # The last or current full sync, as github-data reported it (the
    # progress bar's starting point; live progress goes over Channels).
    sync_status = models.CharField(
        max_length=16, choices=OrgSyncStatus.choices, default=OrgSyncStatus.NEVER
    )
    sync_label = models.CharField(max_length=200, blank=True, default="")
    sync_processed = models.PositiveIntegerField(default=0)
    sync_total = models.PositiveIntegerField(default=0)
    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.org_id

    @property
    def display_name(self) -> str:
        return self.name or self.login or self.org_id


class TaskIndexEntry(models.Model):
    """Where a task lives: its repository, its branch and the pull request, if
    any. See ``orgs/task_index.py`` for how pull requests become tasks and which
    task owns a branch; the constraints below hold whatever the code does."""

    org = models.CharField(max_length=100)
    task_id = models.CharField(max_length=100)
    repo_id = models.BigIntegerField()
    # The head branch, in the head repository (which a fork's pull request
    # names apart from ``repo_id``, its base repository).
    branch = models.CharField(max_length=255)
    pr_number = models.PositiveIntegerField(null=True, blank=True)
    # GitHub's id of the head repository; null when a fork was deleted under
    # its pull request.
    head_repo_id = models.BigIntegerField(null=True, blank=True)
    head_repo_full_name = models.CharField(max_length=300, blank=True, default="")
    head_repo_fork = models.BooleanField(default=False)
    archived = models.BooleanField(default=False)
    # This task owns ``branch`` of repository ``repo_id``.
    owns_branch = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "task_id"], name="task_index_unique_task"),
            # A branch of a repository belongs to at most one live task ...
            models.UniqueConstraint(
                fields=["org", "repo_id", "branch"],
                condition=models.Q(owns_branch=True),
                name="task_index_one_owner_per_branch",
            ),
            # ... and only a live task can own one, only of its own repository
            # (a fork's branch is none of the base repository's).
            models.CheckConstraint(
                condition=models.Q(owns_branch=False)
                | models.Q(
                    archived=False,
                    head_repo_id__isnull=False,
                    head_repo_id=models.F("repo_id"),
                ),
                name="task_index_owner_is_live_and_local",
            ),
        ]
        verbose_name = "task index entry"
        verbose_name_plural = "task index"

    def __str__(self) -> str:
        return f"{self.org}/{self.task_id}"


class PullRequestState(models.TextChoices):
    NONE = ""
    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"


class TaskStatus(models.TextChoices):
    IDLE = "idle"
    RUNNING = "running"
    ERROR = "error"
    ARCHIVED = "archived"


class TaskSummary(models.Model):
    org = models.CharField(max_length=100)
    task_id = models.CharField(max_length=100)
    repo_id = models.BigIntegerField()
    repo_name = models.CharField(max_length=200)
    title = models.CharField(max_length=500)
    branch = models.CharField(max_length=255)
    head_repo_id = models.BigIntegerField(null=True, blank=True)
    head_repo_full_name = models.CharField(max_length=300, blank=True, default="")
    head_repo_fork = models.BooleanField(default=False)
    head_sha = models.CharField(max_length=64, blank=True, default="")
    pr_number = models.PositiveIntegerField(null=True, blank=True)
    pr_state = models.CharField(
        max_length=16, choices=PullRequestState.choices, blank=True, default=""
    )
    pr_url = models.URLField(max_length=500, blank=True, default="")
    author_login = models.CharField(max_length=100, blank=True, default="")
    author_avatar_url = models.URLField(max_length=500, blank=True, default="")
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.IDLE)
    archived_reason = models.CharField(max_length=100, blank=True, default="")
    # Pushed by a materialized task (``organization.command.update_task``):
    # the person whose token pushes, and the size of the branch's change.
    owner_login = models.CharField(max_length=100, blank=True, default="")
    owner_avatar_url = models.URLField(max_length=500, blank=True, default="")
    lines_added = models.PositiveIntegerField(default=0)
    lines_removed = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "task_id"], name="task_summary_unique_task")
        ]
        indexes = [models.Index(fields=["org", "-updated_at"], name="task_summary_recent")]
        verbose_name_plural = "task summaries"

    def __str__(self) -> str:
        return f"{self.org}/{self.task_id}: {self.title}"
