"""Shared fixtures: real Celery worker processes against the test database.

The README's test command runs this suite twice, on PostgreSQL and on
SQLite, with Redis as broker and notifier (see scripts/test).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """The URL of the database pytest-django created, for child processes."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DATABASE_URL=test_database_url(), PYTHONUNBUFFERED="1", **extra)
    return env


@pytest.fixture(scope="session", autouse=True)
def _clean_broker() -> None:
    """Doorbells left in Redis by an aborted earlier run must not leak in."""
    if settings.REDIS_URL:
        redis.Redis.from_url(settings.REDIS_URL).flushdb()


@dataclass
class Workers:
    tmp: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def start(
        self, *, count: int = 1, pool: str = "solo", concurrency: int = 1,
        queues: str = "actors.probe,maintenance", beat: bool = False,
    ) -> list[subprocess.Popen[bytes]]:
        started = []
        for _ in range(count):
            name = f"w{len(self.processes)}-{uuid.uuid4().hex[:6]}"
            log = self.tmp / f"{name}.log"
            cmd = [
                sys.executable, "-m", "celery", "-A", "foundry", "worker", "-n", f"{name}@%h",
                "-P", pool, "-c", str(concurrency), "-Q", queues, "-l", "INFO",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
            ]
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=child_env(), stdout=log.open("wb"),
                stderr=subprocess.STDOUT, start_new_session=True,
            )
            self.processes.append(proc)
            self.logs.append(log)
            started.append((proc, log))
        if beat:
            log = self.tmp / "beat.log"
            cmd = [
                sys.executable, "-m", "celery", "-A", "foundry", "beat", "-l", "INFO",
                "-s", str(self.tmp / "beat-schedule"),
            ]
            self.processes.append(subprocess.Popen(
                cmd, cwd=ROOT, env=child_env(), stdout=log.open("wb"),
                stderr=subprocess.STDOUT, start_new_session=True,
            ))
            self.logs.append(log)
        for proc, log in started:
            self._wait_ready(proc, log)
        return [proc for proc, _ in started]

    def _wait_ready(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}:\n{log.read_text()}")
            if b" ready." in log.read_bytes():
                return
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready after 60s:\n{log.read_text()}")

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in self.processes:
            proc.wait(timeout=30)

    def output(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()}" for log in self.logs)


@pytest.fixture
def workers(transactional_db: None, tmp_path: Path) -> Iterator[Workers]:
    """Start real `celery worker` processes on the test database."""
    pool = Workers(tmp_path)
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
