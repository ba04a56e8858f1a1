"""Worker presence: real `celery worker` processes record which queues they
consume, renew it, drop it on a warm shutdown; `require_worker` reads it."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from foundry.actors.models import WorkerPresence
from foundry.actors.presence import require_worker
from tests.actor_types import probe
from tests.conftest import Workers, wait_until

pytestmark = pytest.mark.workers


def test_a_ready_worker_is_present_and_renews(workers: Workers) -> None:
    """A worker's row exists once it logs "ready." and names its queues; it
    is renewed every presence period, and require_worker passes at once."""
    workers.env["FOUNDRY_WORKER_PRESENCE_SECONDS"] = "0.5"
    (worker,) = workers.start(queues="actors.probe,maintenance")
    row = WorkerPresence.objects.get(pid=worker.pid)
    assert row.queues == ["actors.probe", "maintenance"]
    assert row.hostname.startswith("worker")
    first_seen = row.last_seen_at
    wait_until(
        lambda: WorkerPresence.objects.get(pid=worker.pid).last_seen_at > first_seen,
        timeout=10, what="a renewal",
    )
    started = time.monotonic()
    require_worker(probe, within=5)
    assert time.monotonic() - started < 1


def test_warm_shutdown_removes_the_row(workers: Workers) -> None:
    """SIGTERM (a warm shutdown) deletes the worker's row: it stops being
    counted at once, not after the stale period."""
    (worker,) = workers.start(queues="actors.probe,maintenance")
    assert WorkerPresence.objects.filter(pid=worker.pid).exists()
    os.kill(worker.pid, signal.SIGTERM)
    worker.wait(timeout=30)
    assert not WorkerPresence.objects.filter(pid=worker.pid).exists()
    with pytest.raises(CommandError, match="no worker consumes actors.probe"):
        require_worker(probe, within=0.5)


def test_a_killed_worker_goes_stale(workers: Workers, settings: Any) -> None:
    """A SIGKILLed worker cannot delete its row: it counts until three
    presence periods pass without a renewal, then require_worker fails."""
    settings.FOUNDRY_WORKER_PRESENCE_SECONDS = 0.5
    workers.env["FOUNDRY_WORKER_PRESENCE_SECONDS"] = "0.5"
    (worker,) = workers.start(queues="actors.probe,maintenance")
    require_worker(probe, within=5)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    assert WorkerPresence.objects.filter(pid=worker.pid).exists()
    time.sleep(1.6)
    with pytest.raises(CommandError) as failure:
        require_worker(probe, within=0.5)
    assert "celery -A foundry worker -Q actors.probe,maintenance" in str(failure.value)


def test_require_worker_waits_for_a_starting_worker(workers: Workers) -> None:
    """A worker of another queue does not count; one that becomes ready
    while require_worker waits ends the wait."""
    workers.start(queues="maintenance")
    with pytest.raises(CommandError, match="no worker consumes actors.probe"):
        require_worker(probe, within=0.3)
    starting = threading.Thread(target=workers.start, kwargs={"queues": "actors.probe"})
    starting.start()
    try:
        require_worker(probe, within=60)
    finally:
        starting.join()
    assert any("actors.probe" in row.queues for row in WorkerPresence.objects.all())


def test_admin_lists_workers(workers: Workers, admin_client: Client) -> None:
    """The admin lists worker processes with their queues and liveness."""
    (worker,) = workers.start(queues="actors.probe,maintenance")
    page = admin_client.get(reverse("admin:actors_workerpresence_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    assert str(worker.pid) in html and "actors.probe, maintenance" in html
