"""The embedded worker: a Celery worker and its helpers as threads of the
web process, on the in-memory broker. For a newcomer's first run only; the
production shape runs ``celery worker`` and ``celery beat`` processes.

Beside the worker run: its presence row (so management commands in other
processes know it is there), the sweeper, and history pruning, which beat
runs in the production shape.

The sweeper runs every ``FOUNDRY_ACTOR_EMBEDDED_WATCH_SECONDS`` (0.2 s)
here, not every ``FOUNDRY_ACTOR_SWEEP_SECONDS``: the ``memory://`` broker
lives inside this process, so a command sent by another process (a
management command, a shell) rings a broker nobody consumes, and the
sweeper is what finds it. It rings only instances whose head may run, that
no live drain holds, and that have no doorbell on its way, so a period
costs one query on the partial index of open commands and rings nothing
twice; a command sent from another process reaches the worker within
about one period.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections

from foundry.actors.registry import all_actor_types

logger = logging.getLogger(__name__)

EMBEDDED_HOSTNAME = "embedded@localhost"


def start_inprocess_worker(*, concurrency: int = 4) -> threading.Thread:
    from foundry.actors.presence import record_presence
    from foundry.celery import app

    queues = ["maintenance", *(t.queue for t in all_actor_types())]
    worker = app.WorkController(
        pool_cls="threads",
        concurrency=concurrency,
        queues=queues,
        loglevel="WARNING",
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        hostname=EMBEDDED_HOSTNAME,
    )
    thread = threading.Thread(target=worker.start, name="foundry-embedded-worker", daemon=True)
    thread.start()
    record_presence(EMBEDDED_HOSTNAME, queues)
    stop = threading.Event()  # never set: the threads end with the process
    for name, target in [
        ("foundry-embedded-sweeper", _sweep_forever),
        ("foundry-embedded-pruner", _prune_forever),
    ]:
        threading.Thread(target=target, args=(stop,), name=name, daemon=True).start()
    logger.info("embedded worker consuming %s", ", ".join(queues))
    return thread


def _sweep_forever(stop: threading.Event) -> None:
    from foundry.actors.loop import sweep

    _every(stop, settings.FOUNDRY_ACTOR_EMBEDDED_WATCH_SECONDS, sweep, "embedded sweeper")


def _prune_forever(stop: threading.Event) -> None:
    from foundry.actors.retention import prune_history_task_body

    _every(stop, settings.FOUNDRY_HISTORY_PRUNE_SECONDS, prune_history_task_body,
           "embedded history pruning")


def _every(stop: threading.Event, seconds: float, fn: Callable[[], object], what: str) -> None:
    while not stop.wait(seconds):
        try:
            fn()
        except Exception:
            logger.exception("%s failed; trying again next period", what)
            close_old_connections()
