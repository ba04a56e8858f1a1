"""The actor runtime: durable, serial, per-instance command loops on Celery.

It knows nothing of GitHub, tasks or organizations. Product apps declare
actor types with ``ActorType`` and send commands through handles.
"""

from foundry.actors.errors import (
    ActorAlreadyExists,
    ActorError,
    ActorNotFound,
    CommandCancelled,
    CommandFailed,
    CommandTimeout,
    HistoryDiverged,
    InvalidPayload,
    UnknownCommand,
    WaitNotAllowed,
)
from foundry.actors.registry import ActorType

__all__ = [
    "ActorAlreadyExists",
    "ActorError",
    "ActorNotFound",
    "ActorType",
    "CommandCancelled",
    "CommandFailed",
    "CommandTimeout",
    "HistoryDiverged",
    "InvalidPayload",
    "UnknownCommand",
    "WaitNotAllowed",
]
