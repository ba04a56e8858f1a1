"""The github-data actor's tables: a cache of one organization's GitHub.

Rows are keyed by the organization id (``org``) and GitHub's own ids, and
written only by the github-data actor's commands (full sync, webhooks).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class GitHubRepository(models.Model):
    org = models.CharField(max_length=100)
    github_id = models.BigIntegerField()
    name = models.CharField(max_length=200)
    full_name = models.CharField(max_length=300)
    owner_login = models.CharField(max_length=100)
    default_branch = models.CharField(max_length=255)
    private = models.BooleanField(default=False)
    html_url = models.URLField(max_length=500)
    clone_url = models.URLField(max_length=500)
    pushed_or_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "github_id"], name="github_repo_unique")
        ]
        ordering = ["org", "name"]
        verbose_name = "repository"
        verbose_name_plural = "repositories"

    def __str__(self) -> str:
        return self.full_name


class GitHubBranch(models.Model):
    org = models.CharField(max_length=100)
    repository = models.ForeignKey(
        GitHubRepository, on_delete=models.CASCADE, related_name="branches"
    )
    name = models.CharField(max_length=255)
    head_sha = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["repository", "name"], name="github_branch_unique")
        ]
        indexes = [models.Index(fields=["org", "name"], name="github_branch_org_name")]
        verbose_name = "branch"
        verbose_name_plural = "branches"

    def __str__(self) -> str:
        return self.name


class GitHubMember(models.Model):
    org = models.CharField(max_length=100)
    github_id = models.BigIntegerField()
    login = models.CharField(max_length=100)
    avatar_url = models.URLField(max_length=500, blank=True, default="")
    account_type = models.CharField(max_length=32, default="User")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "github_id"], name="github_member_unique")
        ]
        ordering = ["org", "login"]
        verbose_name = "member"

    def __str__(self) -> str:
        return self.login


class GitHubPullRequest(models.Model):
    """Open pull requests only: a closed one is deleted here and its task
    summary (owned by the organization) keeps the final state."""

    org = models.CharField(max_length=100)
    repository = models.ForeignKey(
        GitHubRepository, on_delete=models.CASCADE, related_name="pull_requests"
    )
    github_id = models.BigIntegerField()
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=500)
    draft = models.BooleanField(default=False)
    head_ref = models.CharField(max_length=255)
    head_sha = models.CharField(max_length=64)
    # `owner/name` of the repository the head branch lives in: a fork's, or
    # this repository's; blank when the fork was deleted.
    head_repo_full_name = models.CharField(max_length=300, blank=True, default="")
    base_ref = models.CharField(max_length=255)
    author_login = models.CharField(max_length=100)
    author_avatar_url = models.URLField(max_length=500, blank=True, default="")
    html_url = models.URLField(max_length=500)
    created_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["repository", "number"], name="github_pull_unique")
        ]
        verbose_name = "pull request"

    def __str__(self) -> str:
        return f"{self.repository_id}#{self.number}"


class SyncStatus(models.TextChoices):
    NEVER = "never"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class SyncState(models.Model):
    """One row per organization (enforced by the unique org): the last or
    current full sync, with the progress shown live and in the admin."""

    org = models.CharField(max_length=100, unique=True)
    status = models.CharField(max_length=16, choices=SyncStatus.choices, default=SyncStatus.NEVER)
    phase = models.CharField(max_length=32, blank=True, default="")
    label = models.CharField(max_length=200, blank=True, default="")
    processed = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    command_id = models.BigIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "sync state"

    def __str__(self) -> str:
        return f"{self.org}: {self.status} {self.label}"


class WebhookDelivery(models.Model):
    """Each accepted delivery once: a redelivery (same id) is a no-op."""

    delivery_id = models.CharField(max_length=100, unique=True)
    event = models.CharField(max_length=64)
    action = models.CharField(max_length=64, blank=True, default="")
    org = models.CharField(max_length=100, blank=True, default="")
    received_at = models.DateTimeField(default=timezone.now)
    command_ids = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event}.{self.action} {self.delivery_id}"
