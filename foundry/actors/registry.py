"""Actor types: key fields, commands with validated payloads, read actions.

An actor type is declared once at import time of its app::

    task = ActorType("task", key_fields=("org", "repo", "task"))

    @task.command("task.command.initialize", payload=InitializeIn)
    def initialize(ctx: CommandContext, payload: InitializeIn) -> dict: ...

    @task.read("task.read.summary")
    def summary(handle: ActorHandle) -> TaskSummary: ...

Handles to instances come from ``task.get(...)``, ``task.create(...)`` and
``task.get_or_create(...)`` (see ``handles.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from foundry.actors.doorbell import queue_for
from foundry.actors.errors import (
    InvalidKey,
    InvalidPayload,
    NotSerializable,
    UnknownActorType,
    UnknownCommand,
)
from foundry.actors.handles import (
    ActorHandle,
    create_handle,
    get_handle,
    get_or_create_handle,
)
from foundry.actors.jsonvalue import to_json_value, unsafe_part

if TYPE_CHECKING:
    from foundry.actors.context import CommandContext

Handler = Callable[["CommandContext", Any], Any]
F = TypeVar("F", bound=Callable[..., Any])

_TYPES: dict[str, ActorType] = {}
KEY_SEPARATOR = "/"


@dataclass(frozen=True)
class CommandSpec:
    name: str
    actor_type: str
    handler: Handler
    payload_type: Any | None

    @functools.cached_property
    def _adapter(self) -> TypeAdapter[Any]:
        # Building an adapter costs more than validating with it: once per spec.
        payload_type: Any = self.payload_type
        return TypeAdapter(payload_type)

    def validate(self, body: Any) -> Any:
        """Validate a body at send time; return its JSON form for the mailbox.

        Refused for every command, typed or not: what JSON cannot carry
        safely (NaN, Infinity, NUL characters, objects JSON cannot write),
        checked on the body as sent (a typed float field would otherwise
        turn NaN into null) and on the payload as stored."""
        self._refuse_unsafe(body)
        if self.payload_type is None:
            try:
                return to_json_value(body, what="payload")
            except NotSerializable as exc:
                raise InvalidPayload(self.name, [{"loc": (), "msg": str(exc)}]) from None
        adapter = self._adapter
        try:
            value = adapter.validate_python(body if body is not None else {})
        except ValidationError as exc:
            raise InvalidPayload(
                self.name, [dict(e) for e in exc.errors(include_url=False)]
            ) from None
        self._refuse_unsafe(adapter.dump_python(value))
        return adapter.dump_python(value, mode="json")

    def _refuse_unsafe(self, value: Any) -> None:
        found = unsafe_part(value)
        if found:
            loc, message = found
            raise InvalidPayload(self.name, [{"loc": loc, "msg": message}])

    def parse(self, stored: Any) -> Any:
        """Rebuild the payload object a handler receives from the mailbox row."""
        if self.payload_type is None:
            return stored
        adapter = self._adapter
        try:
            return adapter.validate_python(stored if stored is not None else {})
        except ValidationError as exc:
            raise InvalidPayload(
                self.name, [dict(e) for e in exc.errors(include_url=False)]
            ) from None


@dataclass
class ActorType:
    name: str
    key_fields: tuple[str, ...]
    commands: dict[str, CommandSpec] = field(default_factory=dict)
    reads: dict[str, Callable[..., Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name in _TYPES:
            raise ValueError(f"actor type {self.name!r} is declared twice")
        if not self.key_fields:
            raise ValueError(f"actor type {self.name!r} needs at least one key field")
        _TYPES[self.name] = self

    @property
    def queue(self) -> str:
        """One Celery queue per actor type, so workers can be sized per type."""
        return queue_for(self.name)

    def command(self, name: str, *, payload: Any | None = None) -> Callable[[F], F]:
        if not name.startswith(f"{self.name}."):
            raise ValueError(f"command {name!r} must start with {self.name + '.'!r}")
        if name in self.commands:
            raise ValueError(f"command {name!r} is declared twice")

        def register(fn: F) -> F:
            self.commands[name] = CommandSpec(name, self.name, fn, payload)
            return fn

        return register

    def read(self, name: str) -> Callable[[F], F]:
        def register(fn: F) -> F:
            self.reads[name] = fn
            return fn

        return register

    def command_spec(self, name: str) -> CommandSpec:
        try:
            return self.commands[name]
        except KeyError:
            raise UnknownCommand(self.name, name) from None

    def key_for(self, fields: dict[str, Any]) -> str:
        missing = [f for f in self.key_fields if fields.get(f) in (None, "")]
        extra = sorted(set(fields) - set(self.key_fields))
        if missing or extra:
            raise InvalidKey(
                f"{self.name} key needs exactly {', '.join(self.key_fields)}"
                f" (missing: {missing or 'none'}, unexpected: {extra or 'none'})"
            )
        parts = [str(fields[f]) for f in self.key_fields]
        for f, part in zip(self.key_fields, parts, strict=True):
            if KEY_SEPARATOR in part or "\x00" in part:
                raise InvalidKey(
                    f"{self.name} key field {f!r} must not contain '/' or NUL: {part!r}"
                )
        return KEY_SEPARATOR.join(parts)

    def key_fields_of(self, key: str) -> dict[str, str]:
        parts = key.split(KEY_SEPARATOR)
        if len(parts) != len(self.key_fields):
            raise InvalidKey(f"{key!r} is not a {self.name} key ({'/'.join(self.key_fields)})")
        return dict(zip(self.key_fields, parts, strict=True))

    # Handles: see handles.py.
    def get(self, **key: Any) -> ActorHandle:
        return get_handle(self, key)

    def create(self, *, input: Any = None, **key: Any) -> ActorHandle:
        return create_handle(self, key, input)

    def get_or_create(self, *, create_with_input: Any = None, **key: Any) -> ActorHandle:
        return get_or_create_handle(self, key, create_with_input)


def actor_type(name: str) -> ActorType:
    try:
        return _TYPES[name]
    except KeyError:
        raise UnknownActorType(f"unknown actor type {name!r}") from None


def all_actor_types() -> list[ActorType]:
    return list(_TYPES.values())
