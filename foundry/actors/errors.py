"""Errors of the actor runtime.

Every error names the actor key and, where there is one, the command, so a
message read in a log or an API answer says where it came from.
"""

from __future__ import annotations

from typing import Any


class ActorError(Exception):
    """Base class of every error the runtime raises."""


class ActorNotFound(ActorError):
    def __init__(self, actor_type: str, key: str) -> None:
        super().__init__(f"actor not found: {actor_type}:{key}")
        self.actor_type = actor_type
        self.key = key


class ActorAlreadyExists(ActorError):
    def __init__(self, actor_type: str, key: str) -> None:
        super().__init__(f"actor already exists: {actor_type}:{key}")
        self.actor_type = actor_type
        self.key = key


class UnknownActorType(ActorError):
    pass


class InvalidKey(ActorError):
    pass


class UnknownCommand(ActorError):
    def __init__(self, actor_type: str, name: str) -> None:
        super().__init__(f"actor type {actor_type!r} has no command {name!r}")
        self.actor_type = actor_type
        self.name = name


class InvalidPayload(ActorError):
    def __init__(self, name: str, details: list[dict[str, Any]]) -> None:
        summary = "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', ())) or 'body'}: {d.get('msg')}"
            for d in details
        )
        super().__init__(f"invalid payload for {name}: {summary}")
        self.name = name
        self.details = details


class CommandError(ActorError):
    """About one sent command: names it, its actor and its id."""

    def __init__(self, message: str, *, actor_key: str, command_name: str, command_id: int) -> None:
        super().__init__(message)
        self.actor_key = actor_key
        self.command_name = command_name
        self.command_id = command_id


class CommandFailed(CommandError):
    """The handler raised: carries the original error's type and message."""

    def __init__(
        self, *, actor_key: str, command_name: str, command_id: int, error_type: str, message: str
    ) -> None:
        super().__init__(
            f"{command_name} on {actor_key} (command {command_id}) failed: "
            f"{error_type}: {message}",
            actor_key=actor_key, command_name=command_name, command_id=command_id,
        )
        self.error_type = error_type
        self.original_message = message


class CommandCancelled(CommandError):
    def __init__(self, *, actor_key: str, command_name: str, command_id: int) -> None:
        super().__init__(
            f"{command_name} on {actor_key} (command {command_id}) was cancelled",
            actor_key=actor_key, command_name=command_name, command_id=command_id,
        )


class CommandTimeout(CommandError):
    """The waiter gave up; the command itself goes on."""

    def __init__(
        self, *, actor_key: str, command_name: str, command_id: int, timeout: float
    ) -> None:
        super().__init__(
            f"timed out after {timeout:g}s waiting for {command_name} on {actor_key} "
            f"(command {command_id}); the command is still in the mailbox",
            actor_key=actor_key, command_name=command_name, command_id=command_id,
        )
        self.timeout = timeout


class HistoryDiverged(ActorError):
    """On replay the handler asked for a different step than the log holds."""

    def __init__(
        self, *, command_name: str, command_id: int, index: int, expected: str, recorded: str
    ) -> None:
        super().__init__(
            f"history diverged in {command_name} (command {command_id}) at step {index}: "
            f"the handler asked for step {expected!r} but the log recorded {recorded!r}"
        )
        self.index = index
        self.expected = expected
        self.recorded = recorded


class NestedStepError(ActorError):
    pass


class WaitNotAllowed(ActorError):
    """Waiting here could never finish (self-wait, a cycle, an open
    transaction) or would break replay (inside a step)."""


class NotSerializable(ActorError):
    """A value JSON cannot carry safely: not JSON at all, NaN or Infinity,
    or a NUL character (PostgreSQL refuses it in text and JSON)."""


class StepFailed(ActorError):
    """A step's function raised an error that cannot be raised again exactly
    on replay (its class or arguments cannot be rebuilt). The first run
    raises this too, with the original as ``__cause__``, so a handler that
    catches it takes the same branch on the first run and on every replay."""

    def __init__(self, *, step_name: str, error_type: str, message: str) -> None:
        super().__init__(f"step {step_name!r} failed: {error_type}: {message}")
        self.step_name = step_name
        self.error_type = error_type
        self.original_message = message


class AbandonedCommand(ActorError):
    """A command whose every attempt lost its worker, ``FOUNDRY_ACTOR_MAX_ATTEMPTS`` times."""


class LeaseLost(ActorError):
    """This drain no longer holds the instance (its database session was
    lost, or an operator released the lease): it must stop writing."""
