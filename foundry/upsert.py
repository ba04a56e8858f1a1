"""Write only what changed: the sync and webhooks upsert rows by key and
leave equal rows untouched, so a second full sync changes no row."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)


@dataclass
class UpsertCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


def upsert_rows(
    existing: Iterable[M],
    incoming: dict[Hashable, dict[str, Any]],
    *,
    model: type[M],
    key: Any,
    defaults: dict[str, Any] | None = None,
) -> UpsertCounts:
    """``incoming`` maps a row key to its fields; ``key(row)`` gives the key
    of an existing row. Creates and updates in bulk; returns counts."""
    counts = UpsertCounts()
    by_key = {key(row): row for row in existing}
    to_create: list[M] = []
    to_update: list[M] = []
    changed_fields: set[str] = set()
    for row_key, fields in incoming.items():
        row = by_key.get(row_key)
        if row is None:
            to_create.append(model(**(defaults or {}), **fields))
            continue
        changed = {name for name, value in fields.items() if getattr(row, name) != value}
        if not changed:
            counts.unchanged += 1
            continue
        for name in changed:
            setattr(row, name, fields[name])
        changed_fields |= changed
        to_update.append(row)
    if to_create:
        model._default_manager.bulk_create(to_create, batch_size=500)
    if to_update:
        model._default_manager.bulk_update(to_update, sorted(changed_fields), batch_size=500)
    counts.created = len(to_create)
    counts.updated = len(to_update)
    return counts
