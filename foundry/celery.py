"""The Celery application. Celery is the doorbell and the worker pool; the
order and durability of actor commands live in the database."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "foundry.settings")

app = Celery("foundry")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["foundry.actors"])
