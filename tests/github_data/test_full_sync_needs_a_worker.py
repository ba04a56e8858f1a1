"""`manage.py full_sync` as a real process: without a worker for its queues
it exits at once naming the command that starts one; with one it syncs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest
from django.conf import settings

pytestmark = pytest.mark.workers


def full_sync(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "manage.py", "full_sync", "acme", "--json", "--timeout", "60", *args],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )
    return done, time.monotonic() - started


def test_full_sync_without_a_worker_fails_fast_naming_the_fix(github_stack: Any) -> None:
    """No worker consumes github-data's and the organization's queues: the
    command gives up after its few seconds of looking (not its 60 s
    timeout), exits non-zero and prints the `celery worker` command to run;
    nothing is sent."""
    stack = github_stack()
    done, seconds = full_sync(stack.workers.env)
    assert done.returncode != 0
    assert seconds < 30, f"took {seconds:.1f}s"
    assert "no worker consumes actors.github_data, actors.organization" in done.stderr
    assert "celery -A foundry worker -Q actors.github_data,actors.organization,maintenance" in (
        done.stderr
    )
    from foundry.actors.models import Command

    assert not Command.objects.exists()


def test_full_sync_with_workers_runs(github_stack: Any) -> None:
    """With a worker on both queues, the same command syncs and prints its
    summary."""
    stack = github_stack()
    stack.start_workers(count=1)
    done, _ = full_sync(stack.workers.env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["repos"] == 6 and summary["pull_requests"] == 12
