"""Errors of the task actor. Each takes one message (so a failed step's
error is rebuilt exactly on replay) that names the task and what was
expected."""

from __future__ import annotations

from foundry.actors import ActorError


class TaskError(ActorError):
    """A task command that cannot do what was asked (the message says why)."""


class TaskNotMaterialized(TaskError):
    """A task command ran before the task's record was written."""


class GitCommandFailed(TaskError):
    """A git command in the task's sandbox exited non-zero."""
