"""Shared fixtures: real Celery worker processes against the test database.

The README's test command runs this suite twice, on PostgreSQL and on
SQLite, with Redis as broker and notifier (see scripts/test).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from foundry.actors.processes import CeleryProcesses

# Every emulator response the suite makes is checked against GitHub's REST
# description (tests/emulator_conformance.py).
pytest_plugins = ["tests.emulator_conformance"]


def test_database_url() -> str:
    """The URL of the database pytest-django created, for child processes."""
    db = connection.settings_dict
    if db["ENGINE"] in ("django.db.backends.sqlite3", "foundry.sqlite"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set only around browser tests
    env.update(DATABASE_URL=test_database_url(), PYTHONUNBUFFERED="1", **extra)
    return env


@pytest.fixture(scope="session", autouse=True)
def _clean_broker() -> None:
    """Doorbells left in Redis by an aborted earlier run must not leak in."""
    if settings.REDIS_URL:
        redis.Redis.from_url(settings.REDIS_URL).flushdb()


class Workers(CeleryProcesses):
    def start(
        self, *, count: int = 1, pool: str = "solo", concurrency: int = 1,
        queues: str = "actors.probe,maintenance", beat: bool = False,
        env: dict[str, str] | None = None,
    ) -> list[subprocess.Popen[bytes]]:
        if beat:
            self.start_beat()
        return self.start_workers(
            count=count, queues=queues.split(","), pool=pool, concurrency=concurrency, env=env,
        )


@pytest.fixture
def workers(transactional_db: None, tmp_path: Path) -> Iterator[Workers]:
    """Start real `celery worker` processes on the test database."""
    pool = Workers(log_dir=tmp_path, env=child_env())
    try:
        yield pool
    finally:
        pool.stop()


def wait_until(predicate: Callable[[], object], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
