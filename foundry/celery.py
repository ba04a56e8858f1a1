"""The Celery application. Celery is the doorbell and the worker pool; the
order and durability of actor commands live in the database.

Worker processes record their presence (``foundry/actors/presence.py``) when
they are ready and forget it on a warm shutdown, so that management
commands can tell whether anyone consumes an actor type's queue.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "foundry.settings")

app = Celery("foundry")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["foundry.actors"])
# The history pruning task (beat, maintenance queue) lives beside its logic.
app.autodiscover_tasks(["foundry.actors"], related_name="retention")
# The sandbox keep-alive (beat, maintenance queue).
app.autodiscover_tasks(["sandboxes"])


def _record_worker_presence(sender: Any, **kwargs: Any) -> None:
    # Sent by `celery worker` (not by the embedded worker, which records its
    # own presence) with the consumer as sender, before it logs "ready.".
    from foundry.actors.presence import record_presence

    record_presence(sender.hostname, list(sender.app.amqp.queues.consume_from))


def _forget_worker_presence(sender: Any, **kwargs: Any) -> None:
    from foundry.actors.presence import forget_presence

    forget_presence()


# Connected by call: the decorator form is untyped.
worker_ready.connect(_record_worker_presence)
worker_shutdown.connect(_forget_worker_presence)
