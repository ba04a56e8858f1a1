"""Celery tasks of the runtime: the doorbell and the sweeper."""

from __future__ import annotations

from celery import shared_task

from foundry.actors import loop


@shared_task(name="foundry.actors.drain", ignore_result=True)  # type: ignore[untyped-decorator]  # celery is untyped
def drain(instance_id: int | list[int], type_name: str) -> None:
    if isinstance(instance_id, list):
        loop.drain_many(instance_id, type_name)
    else:
        loop.drain(instance_id, type_name)


@shared_task(name="foundry.actors.sweep", ignore_result=True)  # type: ignore[untyped-decorator]  # celery is untyped
def sweep() -> int:
    return loop.sweep()
