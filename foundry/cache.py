"""Cache keys carry the database's prefix (see ``foundry/actors/redisclient``):
deployments, and the PostgreSQL and SQLite test runs, sharing one Redis
never read each other's entries."""

from __future__ import annotations

from foundry.actors import redisclient


def make_key(key: str, key_prefix: str, version: int) -> str:
    return f"{redisclient.prefix()}cache:{key_prefix}:{version}:{key}"
