"""The keep-alive beat job: sandboxes in use stay alive, idle local ones stop.

Every ``FOUNDRY_SANDBOX_KEEPALIVE_SECONDS`` (about 2 minutes) beat, on the
``maintenance`` queue, sends ``sandbox.command.keep_alive`` to each ready
sandbox that someone watches or that has a turn running (E2B's timeout is
then pushed an hour ahead; a gone sandbox is recorded by that command), and
``sandbox.command.stop_idle`` to each ready local sandbox nobody watched,
with no turn running, for ``FOUNDRY_SANDBOX_LOCAL_IDLE_SECONDS``. Nothing
else is kept alive: an unwatched E2B sandbox times out on its own.

It only reads the sandbox table and sends commands (the actor writes).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone

from sandboxes.actor import sandbox as sandbox_actor
from sandboxes.models import Sandbox, SandboxStatus

logger = logging.getLogger(__name__)


def in_use(now: datetime) -> Q:
    return Q(turn_running=True) | Q(watched_until__gt=now)


def is_idle(row: Sandbox, now: datetime) -> bool:
    idle_since = now - timedelta(seconds=settings.FOUNDRY_SANDBOX_LOCAL_IDLE_SECONDS)
    return (
        row.provider == "local"
        and row.status == SandboxStatus.READY
        and not row.turn_running
        and (row.watched_until is None or row.watched_until <= now)
        and (row.last_used_at is None or row.last_used_at < idle_since)
    )


def run_keep_alive(now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    ready = Sandbox.objects.filter(status=SandboxStatus.READY)
    kept = 0
    for org, sandbox_id in ready.filter(in_use(now)).values_list("org", "sandbox_id"):
        sandbox_actor.get_or_create(org=org, sandbox=sandbox_id).send(
            "sandbox.command.keep_alive"
        )
        kept += 1
    idle_since = now - timedelta(seconds=settings.FOUNDRY_SANDBOX_LOCAL_IDLE_SECONDS)
    idle = (
        ready.filter(provider="local").exclude(in_use(now))
        .filter(Q(last_used_at__lt=idle_since) | Q(last_used_at__isnull=True))
    )
    stopped = 0
    for org, sandbox_id in idle.values_list("org", "sandbox_id"):
        sandbox_actor.get_or_create(org=org, sandbox=sandbox_id).send(
            "sandbox.command.stop_idle"
        )
        stopped += 1
    return {"kept_alive": kept, "stopping_idle": stopped}


def start_embedded_keep_alive() -> threading.Thread:
    """The embedded run has no beat: the same job from a thread."""

    def loop() -> None:
        stop = threading.Event()  # never set: the thread ends with the process
        while not stop.wait(settings.FOUNDRY_SANDBOX_KEEPALIVE_SECONDS):
            try:
                run_keep_alive()
            except Exception:
                logger.exception("sandbox keep-alive failed; trying again next period")
                close_old_connections()

    thread = threading.Thread(target=loop, name="foundry-embedded-sandbox-keepalive",
                              daemon=True)
    thread.start()
    return thread
