"""The embedded run serves commands sent from other processes: `full_sync`
against a running `run_embedded` takes the sync's time, not a sweep period;
with no embedded worker running it says to start `scripts/run`."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

# Settings the test suite exports for its own runs (short leases, a fast
# sweeper, Redis): the embedded run under test gets none of them.
_SUITE_ONLY = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "CELERY_RESULT_BACKEND")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Embedded:
    env: dict[str, str]
    data_dir: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        return (self.data_dir / "embedded.log").read_text(errors="replace")

    def manage(self, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR,
            env={**self.env, **env}, capture_output=True, text=True, timeout=120,
        )
        return done, time.monotonic() - started

    def initial_sync_done(self) -> bool:
        try:
            with sqlite3.connect(self.data_dir / "foundry.sqlite3") as db:
                state = db.execute(
                    "SELECT status FROM github_data_syncstate WHERE org = 'acme'"
                ).fetchone()
                profile = db.execute(
                    "SELECT installation_id FROM orgs_organization WHERE org_id = 'acme'"
                ).fetchone()
        except sqlite3.OperationalError:  # not migrated yet
            return False
        return bool(state and state[0] == "succeeded" and profile and profile[0])


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Embedded]:
    """`manage.py run_embedded` on free ports with a fresh data dir, its
    first (own) full sync of the demo organization finished. (It runs on
    its own SQLite database whichever database the suite runs on.)"""
    env = {
        k: v for k, v in os.environ.items()
        if k not in _SUITE_ONLY and not k.startswith("FOUNDRY_")
    }
    env.update(
        FOUNDRY_DATA_DIR=str(tmp_path), PYTHONUNBUFFERED="1",
        GITHUB_API_URL=f"http://127.0.0.1:{free_port()}",
        # A sweeper too slow to matter: whatever delivers the command from
        # the other process within the test's bound, it is not the sweeper.
        FOUNDRY_ACTOR_SWEEP_SECONDS="60",
    )
    log = (tmp_path / "embedded.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_embedded", "--port", str(free_port())],
        cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    running = Embedded(env=env, data_dir=tmp_path, process=process)
    try:
        deadline = time.monotonic() + 120
        while not running.initial_sync_done():
            assert process.poll() is None, running.log()
            assert time.monotonic() < deadline, f"initial sync not done:\n{running.log()}"
            time.sleep(0.2)
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        log.close()


def test_full_sync_from_another_process_reaches_the_embedded_worker(
    embedded: Embedded,
) -> None:
    """Two `full_sync acme` runs from separate processes each take about the
    sync's own time: the command reaches the embedded worker within the
    watcher's period and the sender sees the outcome within its re-read
    period (here the sweeper runs every 60 s; before, the command waited
    for the sweeper: 9 s of a 10 s period)."""
    for _ in range(2):
        done, wall = embedded.manage("full_sync", "acme", "--json", "--timeout", "60")
        assert done.returncode == 0, done.stderr + embedded.log()
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"full_sync against run_embedded: {summary['seconds']}s in the command, "
              f"{wall:.2f}s wall")
        assert summary["repos"] == 6
        assert summary["seconds"] < 4.0, summary


def test_full_sync_after_the_embedded_run_stopped_says_start_scripts_run(
    embedded: Embedded,
) -> None:
    """Ctrl-C stops `run_embedded` and takes its presence with it: a
    `full_sync` right after exits non-zero within seconds naming
    `scripts/run`, instead of waiting for its timeout."""
    embedded.process.send_signal(signal.SIGINT)
    assert embedded.process.wait(timeout=30) == 0, embedded.log()
    done, wall = embedded.manage("full_sync", "acme", "--timeout", "60")
    assert done.returncode != 0
    assert wall < 30, f"took {wall:.1f}s"
    assert "no worker consumes actors.github_data" in done.stderr
    assert "`scripts/run`" in done.stderr
