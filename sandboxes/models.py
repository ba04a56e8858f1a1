"""The sandbox actor's tables: one row per sandbox, and its history.

A sandbox is keyed by organization and sandbox id (the task's id). Its row
says where it runs now (provider, provider's id, agent server, paths of
*this* sandbox) and its status; ``SandboxEvent`` keeps every status change,
so a sandbox that expired and was provisioned again still shows what
happened. Written only by the sandbox actor's commands.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone


class SandboxStatus(models.TextChoices):
    PROVISIONING = "provisioning"
    READY = "ready"
    PAUSED = "paused"
    EXPIRED = "expired"
    DESTROYED = "destroyed"
    ERROR = "error"


class Sandbox(models.Model):
    org = models.CharField(max_length=100)
    sandbox_id = models.CharField(max_length=100)
    provider = models.CharField(max_length=16)
    provider_sandbox_id = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(
        max_length=16, choices=SandboxStatus.choices, default=SandboxStatus.PROVISIONING
    )
    status_detail = models.TextField(blank=True, default="")
    # Incremented by each provisioning: a new sandbox at the provider.
    generation = models.PositiveIntegerField(default=0)
    repo_full_name = models.CharField(max_length=300, blank=True, default="")
    clone_url = models.CharField(max_length=500, blank=True, default="")
    branch = models.CharField(max_length=255, blank=True, default="")
    # The GitHub App installation whose token clones it (None: the
    # organization's own installation, or an anonymous clone).
    installation_id = models.BigIntegerField(null=True, blank=True)
    agent_url = models.CharField(max_length=500, blank=True, default="")
    # E2B: its agent server is reachable from the internet, so it has a token.
    agent_token = models.CharField(max_length=100, blank=True, default="")
    home_path = models.CharField(max_length=500, blank=True, default="")
    repo_path = models.CharField(max_length=500, blank=True, default="")
    # Local: the agent server's process, found again after a restart of the
    # web or worker process (the start time guards against a reused pid).
    server_pid = models.IntegerField(null=True, blank=True)
    server_started_at = models.FloatField(null=True, blank=True)
    # Times the agent server was started again under the same sandbox: its
    # ACP sessions were lost each time (sessions compare it and re-create).
    server_epoch = models.PositiveIntegerField(default=0)
    watched_until = models.DateTimeField(null=True, blank=True)
    turn_running = models.BooleanField(default=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_keepalive_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "sandbox_id"], name="sandbox_unique")
        ]
        verbose_name_plural = "sandboxes"

    def __str__(self) -> str:
        return f"{self.org}/{self.sandbox_id}"

    def place_fields(self) -> dict[str, Any]:
        return {
            "provider_sandbox_id": self.provider_sandbox_id,
            "home_path": self.home_path,
            "repo_path": self.repo_path,
            "agent_url": self.agent_url,
            "agent_token": self.agent_token,
            "server_pid": self.server_pid,
            "server_started_at": self.server_started_at,
        }


class SandboxEvent(models.Model):
    """A status change of a sandbox, kept after the sandbox is gone."""

    sandbox = models.ForeignKey(Sandbox, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    generation = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=SandboxStatus.choices)
    detail = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["sandbox", "id"]

    def __str__(self) -> str:
        return f"{self.sandbox} g{self.generation} {self.status}"
