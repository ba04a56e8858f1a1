"""Sessions of a task and their event store. Only the task actor (and the
stream consumer, for the agent's envelopes) writes them.

``Session`` is one conversation with a coding agent in the task's sandbox:
one ACP server (one agent process) of the sandbox's sandbox-agent, one ACP
session in it. ``SessionEvent`` is the store every transcript is built from:

- every envelope of the agent's stream, under its **event index** (the
  stream's own number, shifted by ``Session.index_base`` when the ACP
  server had to be opened again), unique per session: storing an envelope
  seen twice (after a reconnect) is insert-or-ignore, never a crash;
- Foundry's own records (a person's message, a permission answered, an
  error), which have no event index.

Every event gets the session's next **sequence number** (``seq``), taken
under a lock of the session's row: numbers are gapless and in commit order,
so a client that saw ``seq`` N and asks for what follows misses nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from tasks.models import Task


class SessionStatus(models.TextChoices):
    PENDING_PROVISION = "pending_provision"
    PENDING_SESSION_CREATE = "pending_session_create"
    READY = "ready"
    RUNNING = "running"
    IDLE = "idle"
    ERROR = "error"
    CLOSED = "closed"


class Session(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="sessions")
    # Denormalized from the task: live groups and lookups by key.
    org = models.CharField(max_length=100)
    task_key = models.CharField(max_length=100)
    session_id = models.CharField(max_length=64)
    title = models.CharField(max_length=200, blank=True, default="")
    agent = models.CharField(max_length=64, blank=True, default="")
    model = models.CharField(max_length=128, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        max_length=32, choices=SessionStatus.choices, default=SessionStatus.PENDING_PROVISION
    )
    error = models.TextField(blank=True, default="")
    # The ACP server (one agent process) and session in the sandbox.
    acp_server_id = models.CharField(max_length=128, blank=True, default="")
    acp_session_id = models.CharField(max_length=128, blank=True, default="")
    # How many ACP servers this session had: one more each time the
    # sandbox's agent server restarted and the session was opened again.
    acp_generation = models.PositiveIntegerField(default=0)
    # The sandbox's server epoch when the ACP server was opened.
    server_epoch = models.PositiveIntegerField(default=0)
    # Event index = index_base + the stream's index (a new ACP server's
    # stream numbers from 1 again).
    index_base = models.PositiveIntegerField(default=0)
    last_event_index = models.PositiveIntegerField(default=0)
    last_seq = models.PositiveIntegerField(default=0)
    # The JSON-RPC id of the running turn's session/prompt ("" between
    # turns): its response on the stream ends the turn.
    turn_request_id = models.CharField(max_length=128, blank=True, default="")
    turns = models.PositiveIntegerField(default=0)
    # Messages sent during a turn, each {"id", "text", "user_id", "at"},
    # prompted in order when the turn ends.
    queued_messages = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "session_id"], name="session_unique_id")
        ]
        indexes = [models.Index(fields=["status"], name="session_by_status")]

    def __str__(self) -> str:
        return f"{self.org}/{self.task_key}/{self.session_id} ({self.status})"


class EventSource(models.TextChoices):
    AGENT = "agent"  # an envelope of the agent's ACP stream
    FOUNDRY = "foundry"  # recorded by Foundry: a message, an answer, an error


class SessionEvent(models.Model):
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    # Agent envelopes only; NULL for Foundry's records (NULLs never collide).
    event_index = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(max_length=8, choices=EventSource.choices)
    # "user_message", "session_update.agent_message_chunk", "permission_request",
    # "response", "permission_answered", "error"... (see transcript.kind_of).
    kind = models.CharField(max_length=64)
    data = models.JSONField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "seq"], name="session_event_seq"),
            models.UniqueConstraint(
                fields=["session", "event_index"], name="session_event_index"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.seq} {self.kind}"


__all__ = ["EventSource", "Session", "SessionEvent", "SessionStatus"]
