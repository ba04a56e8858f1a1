"""Handles to actor instances: explicit lookups, creation, sending.

``get`` when the instance must exist (``ActorNotFound`` names the key),
``create`` on explicit creation paths (``ActorAlreadyExists`` otherwise),
``get_or_create`` only at lazy materialization points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction

from foundry.actors import mailbox
from foundry.actors.errors import ActorAlreadyExists, ActorError, ActorNotFound
from foundry.actors.jsonvalue import to_json_value
from foundry.actors.models import ActorInstance

if TYPE_CHECKING:
    from foundry.actors.registry import ActorType


@dataclass(frozen=True)
class ActorHandle:
    actor_type: ActorType
    key: str
    instance_id: int
    created_input: Any

    def __str__(self) -> str:
        return f"{self.actor_type.name}:{self.key}"

    @property
    def fields(self) -> dict[str, str]:
        return self.actor_type.key_fields_of(self.key)

    def send(
        self, name: str, body: Any = None, *, wait: bool = False, timeout: float | None = None
    ) -> Any:
        """Fire and forget (returns a ``CommandRef``) or wait for the result."""
        return mailbox.send(self, name, body, wait=wait, timeout=timeout)

    def read(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            fn = self.actor_type.reads[name]
        except KeyError:
            raise ActorError(f"actor type {self.actor_type.name!r} has no read {name!r}") from None
        return fn(self, *args, **kwargs)


def _handle(actor_type: ActorType, key: str, row: ActorInstance) -> ActorHandle:
    return ActorHandle(actor_type, key, row.pk, row.created_input)


def _find(actor_type: ActorType, key: str) -> ActorInstance | None:
    return (
        ActorInstance.objects.filter(actor_type=actor_type.name, key=key)
        .only("id", "created_input")
        .first()
    )


def get_handle(actor_type: ActorType, fields: dict[str, Any]) -> ActorHandle:
    key = actor_type.key_for(fields)
    row = _find(actor_type, key)
    if row is None:
        raise ActorNotFound(actor_type.name, key)
    return _handle(actor_type, key, row)


def create_handle(actor_type: ActorType, fields: dict[str, Any], input: Any) -> ActorHandle:
    key = actor_type.key_for(fields)
    created_input = to_json_value(input, what=f"creation input of {actor_type.name}:{key}")
    try:
        # A savepoint, so a duplicate does not poison a caller's transaction.
        with transaction.atomic():
            row = ActorInstance.objects.create(
                actor_type=actor_type.name, key=key, created_input=created_input
            )
    except IntegrityError:
        raise ActorAlreadyExists(actor_type.name, key) from None
    return _handle(actor_type, key, row)


def get_or_create_handle(
    actor_type: ActorType, fields: dict[str, Any], create_with_input: Any
) -> ActorHandle:
    key = actor_type.key_for(fields)
    row = _find(actor_type, key)
    if row is not None:
        return _handle(actor_type, key, row)
    try:
        return create_handle(actor_type, fields, create_with_input)
    except ActorAlreadyExists:
        # Lost a race with another creator: theirs is as good as ours.
        row = _find(actor_type, key)
        if row is None:
            raise
        return _handle(actor_type, key, row)
