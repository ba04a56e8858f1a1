"""The embedded worker: a Celery worker and a sweeper as threads of the
web process, on the in-memory broker. For a newcomer's first run only; the
production shape runs ``celery worker`` and ``celery beat`` processes."""

from __future__ import annotations

import logging
import threading

from django.conf import settings

from foundry.actors.registry import all_actor_types

logger = logging.getLogger(__name__)


def start_inprocess_worker(*, concurrency: int = 4) -> threading.Thread:
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
        hostname="embedded@localhost",
    )
    thread = threading.Thread(target=worker.start, name="foundry-embedded-worker", daemon=True)
    thread.start()
    sweeper = threading.Thread(target=_sweep_forever, name="foundry-embedded-sweeper", daemon=True)
    sweeper.start()
    logger.info("embedded worker consuming %s", ", ".join(queues))
    return thread


def _sweep_forever() -> None:
    from django.db import close_old_connections

    from foundry.actors.loop import sweep

    stop = threading.Event()
    while not stop.wait(settings.FOUNDRY_ACTOR_SWEEP_SECONDS):
        try:
            sweep()
        except Exception:
            logger.exception("embedded sweeper failed; trying again next period")
            close_old_connections()
