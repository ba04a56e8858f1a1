"""Turning handler values into JSON the step log can store and replay."""

from __future__ import annotations

import dataclasses
import json
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


def to_json_value(value: Any, *, what: str) -> Any:
    """Round-trip through JSON so the first run sees what a replay will see."""
    try:
        return json.loads(json.dumps(value, cls=_Encoder))
    except TypeError as exc:
        raise NotSerializable(f"{what} is not JSON-serializable: {exc}") from exc


def describe_value(value: Any) -> Any:
    """Best-effort JSON for the inspector (step inputs): never raises."""
    try:
        return to_json_value(value, what="input")
    except NotSerializable:
        return repr(value)
