"""The embedded run's doorbell for commands sent by other processes.

On the embedded default the broker is ``memory://``, which lives inside one
process: a management command (``full_sync``) or a shell sending from
another process inserts its command, but its doorbell rings a broker nobody
consumes. The embedded worker therefore watches the mailbox: every
``FOUNDRY_ACTOR_EMBEDDED_WATCH_SECONDS`` it asks which instances have open
commands and no live lease, and rings those with runnable work that it has
not rung for their newest open command yet.

Promises: a command committed by any process reaches the embedded worker
within about one period; each new command arrival rings at most one extra
doorbell (a duplicate doorbell costs the drain one statement that writes
nothing). Idle, a period costs one query on the partial index of open
commands and writes nothing; the command path itself is untouched.

Limits: the watcher only rings for arrivals. A doorbell it rang and the
worker lost, a lease that expired, a wait whose deadline passed: those are
the sweeper's, as in every shape. It is for the embedded run only; with a
shared broker (Redis) senders ring across processes themselves.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Max, Q
from django.utils import timezone

from foundry.actors.errors import UnknownActorType
from foundry.actors.loop import has_runnable
from foundry.actors.mailbox import ring
from foundry.actors.models import OPEN_STATUSES, Command

logger = logging.getLogger(__name__)


class ArrivalWatcher:
    def __init__(self) -> None:
        # Instance id → the newest open command it was last rung (or found
        # not runnable) for. Rebuilt from each look, so it holds only
        # instances that still have open commands and no live lease.
        self._looked_at: dict[int, int] = {}

    def look(self) -> int:
        """Ring the instances with new, runnable, unleased work; return how
        many were rung."""
        now = timezone.now()
        unleased = (
            Command.objects.filter(status__in=OPEN_STATUSES)
            .filter(
                Q(instance__lease_owner="")
                | Q(instance__lease_expires_at=None)
                | Q(instance__lease_expires_at__lt=now)
            )
            .values_list("instance_id", "instance__actor_type")
            .annotate(newest=Max("id"))
            .order_by()
        )
        looked_at: dict[int, int] = {}
        rung = 0
        for instance_id, type_name, newest in unleased:
            looked_at[instance_id] = newest
            if self._looked_at.get(instance_id) == newest:
                continue  # rung already; its drain has not started yet
            # A head that waits on another command is rung by that command
            # when it finishes, not by an arrival behind it.
            if not has_runnable(instance_id):
                continue
            try:
                ring(instance_id, type_name)
            except UnknownActorType:
                logger.error("instance %s has open commands of unknown type %r",
                             instance_id, type_name)
                continue
            rung += 1
        self._looked_at = looked_at
        return rung


def watch_arrivals_forever(stop: threading.Event) -> None:
    """The embedded worker's watcher thread."""
    watcher = ArrivalWatcher()
    while not stop.wait(settings.FOUNDRY_ACTOR_EMBEDDED_WATCH_SECONDS):
        try:
            watcher.look()
        except Exception:
            logger.exception("watching the mailbox for arrivals failed; trying again next period")
            close_old_connections()
