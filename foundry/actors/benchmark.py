"""What bench_runtime measures: a 2-step command on a ``bench`` actor and,
as the baseline, a raw Celery no-op task on the same broker and workers.
Loaded into the benchmark's workers through FOUNDRY_ACTOR_EXTRA_MODULES."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from foundry.actors.context import CommandContext
from foundry.actors.registry import ActorType

bench = ActorType("bench", key_fields=("name",))
CELERY_QUEUE = "bench.celery"


@bench.command("bench.command.two_steps")
def two_steps(ctx: CommandContext, payload: Any) -> int:
    first = ctx.step("first", lambda: 1)
    second = ctx.step("second", lambda: 2)
    return int(first) + int(second)


@shared_task(name="foundry.actors.benchmark.noop")  # type: ignore[untyped-decorator]  # celery is untyped
def noop() -> int:
    return 1
