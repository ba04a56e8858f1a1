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

TYPE_CHECKING = False
if TYPE_CHECKING:
    from foundry.actors.registry import ActorType


def __getattr__(name: str) -> object:
    # ActorType reaches the models through its handles: import it on first
    # use, since this package is imported while Django loads its apps.
    if name == "ActorType":
        from foundry.actors.registry import ActorType

        return ActorType
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
