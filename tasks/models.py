"""The task actor's tables. Only the task actor writes them.

``Task`` is the record of a materialized task: a task of the organization's
task index that a person acted on (a pull request's virtual task, or a task
started from a prompt).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class TaskState(models.TextChoices):
    IDLE = "idle"
    RUNNING = "running"
    ERROR = "error"
    ARCHIVED = "archived"


class TaskOrigin(models.TextChoices):
    # A pull request's virtual task that a person acted on.
    PULL_REQUEST = "pull_request"
    # A task a person started from a prompt, on a new branch.
    PROMPT = "prompt"


class Task(models.Model):
    org = models.CharField(max_length=100)
    task_id = models.CharField(max_length=100)
    repo_id = models.BigIntegerField()
    repo_full_name = models.CharField(max_length=300)
    branch = models.CharField(max_length=255)
    base_branch = models.CharField(max_length=255, blank=True, default="")
    title = models.CharField(max_length=500)
    origin = models.CharField(
        max_length=16, choices=TaskOrigin.choices, default=TaskOrigin.PULL_REQUEST
    )
    # Where the branch lives ("owner/name"): the repository itself, or a
    # fork (a fork's branch is not pushed from here).
    head_repo_full_name = models.CharField(max_length=300, blank=True, default="")
    # The prompt a task was started from (its first message).
    prompt = models.TextField(blank=True, default="")
    # The person whose GitHub token pushes and opens the PR (KEEP 11); none
    # until a person acts (work started as the GitHub App).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="owned_tasks",
    )
    state = models.CharField(max_length=16, choices=TaskState.choices, default=TaskState.IDLE)
    error = models.TextField(blank=True, default="")
    archived = models.BooleanField(default=False)
    archived_reason = models.CharField(max_length=100, blank=True, default="")
    pr_number = models.PositiveIntegerField(null=True, blank=True)
    pr_state = models.CharField(max_length=16, blank=True, default="")
    pr_url = models.URLField(max_length=500, blank=True, default="")
    pr_draft = models.BooleanField(default=False)
    lines_added = models.PositiveIntegerField(default=0)
    lines_removed = models.PositiveIntegerField(default=0)
    files_changed = models.PositiveIntegerField(default=0)
    pushed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "task_id"], name="task_unique_id")
        ]

    def __str__(self) -> str:
        return f"{self.org}/{self.task_id}: {self.title}"


from tasks.session_models import (  # noqa: E402,F401  (sessions: their own module)
    EventSource,
    Session,
    SessionEvent,
    SessionStatus,
)
