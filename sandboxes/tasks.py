"""Celery tasks of the sandboxes app (beat, ``maintenance`` queue)."""

from __future__ import annotations

from celery import shared_task

from sandboxes.keepalive import run_keep_alive


@shared_task(name="sandboxes.keep_alive", ignore_result=True)  # type: ignore[untyped-decorator]  # celery is untyped
def keep_alive_task() -> dict[str, int]:
    return run_keep_alive()
