"""Values the mailbox and the step log can store, and replay unchanged.

Promises: a value accepted here is plain JSON that both databases store
and return unchanged. Refused, with the path of the offending part: what
JSON cannot represent (NaN, Infinity; a first run would see a float that a
replay cannot), NUL characters in strings or keys (PostgreSQL refuses them
in ``text`` and ``jsonb``), and anything ``json`` does not know how to write.
Text the runtime stores about errors (messages, tracebacks) is made safe
instead of refused: an error must always be recordable.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from pydantic import BaseModel

from foundry.actors.errors import NotSerializable


class _Encoder(DjangoJSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, BaseModel):
            return o.model_dump(mode="json")
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return dataclasses.asdict(o)
        if isinstance(o, (set, frozenset)):
            return sorted(o)
        return super().default(o)


Location = tuple[str | int, ...]


def unsafe_part(value: Any, loc: Location = ()) -> tuple[Location, str] | None:
    """Where ``value`` holds something the databases cannot carry, and
    what; None when it is safe. Walks dicts, lists and tuples; other
    objects are left to the JSON encoder."""
    if isinstance(value, str):
        return (loc, "contains a NUL character") if "\x00" in value else None
    if isinstance(value, float):
        return None if math.isfinite(value) else (loc, f"{value} is not a JSON number")
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                return ((*loc, key), "key contains a NUL character")
            found = unsafe_part(item, (*loc, key))
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = unsafe_part(item, (*loc, i))
            if found:
                return found
    return None


def describe_unsafe(found: tuple[Location, str]) -> str:
    loc, message = found
    return f"{'.'.join(str(p) for p in loc) or 'value'}: {message}"


def to_json_value(value: Any, *, what: str) -> Any:
    """Round-trip through JSON so the first run sees what a replay will see."""
    try:
        text = json.dumps(value, cls=_Encoder, allow_nan=False)
    except (TypeError, ValueError) as exc:
        # ValueError: NaN or Infinity (allow_nan=False), or a circular value.
        found = unsafe_part(value)
        reason = describe_unsafe(found) if found else str(exc)
        raise NotSerializable(f"{what} cannot be stored as JSON: {reason}") from None
    loaded = json.loads(text)
    found = unsafe_part(loaded)
    if found:
        raise NotSerializable(f"{what} cannot be stored as JSON: {describe_unsafe(found)}")
    return loaded


def clean_text(text: str) -> str:
    """Error text as the databases can store it (NUL shown as ``\\x00``)."""
    return text.replace("\x00", "\\x00")


def describe_value(value: Any) -> Any:
    """Best-effort JSON for the inspector (step inputs): never raises."""
    try:
        return to_json_value(value, what="input")
    except NotSerializable:
        return clean_text(repr(value))
