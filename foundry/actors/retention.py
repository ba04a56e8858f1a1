"""History retention: finished commands and their steps are deleted once old.

Promises:

- Succeeded and cancelled commands go ``FOUNDRY_HISTORY_DAYS`` after they
  finished, failed ones (abandoned ones included: they are failed with
  ``AbandonedCommand``) after ``FOUNDRY_HISTORY_FAILED_DAYS``. A command
  goes with its steps, never without them.
- Never deleted: an open command, and a finished command an open command
  still refers to (waits for it, or was caused by it): a waiting command
  whose awaited command vanished would wait for its deadline.
- Deletion runs in batches of ``BATCH_ROWS`` commands, oldest first per
  status, each batch one short transaction (steps, then commands) followed
  by a pause. On PostgreSQL a batch locks only finished commands and their
  steps, never an instance or an open command, so the loop's lease and
  claim statements do not wait on it, and it skips rows another transaction
  holds (``SKIP LOCKED``: an operator retrying that command). On SQLite,
  where every write takes the one write lock, a batch takes it up front
  (``BEGIN IMMEDIATE``) and holds it for one batch (about 12 ms here).

Limits: a kept command caused by a pruned one loses that link
(``caused_by`` is SET NULL, as the model says), so the inspector's
causation chain of a recent command can start at a kept descendant. A
caller still waiting on a pruned ``CommandRef`` gets "was deleted".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, F, Func, Min, QuerySet
from django.utils import timezone

from foundry.actors.models import (
    FINISHED_STATUSES,
    OPEN_STATUSES,
    Command,
    CommandStatus,
    Step,
)

logger = logging.getLogger(__name__)

# Commands per transaction. With their steps (two or three each, a full
# sync's forty) a batch commits in tens of milliseconds.
BATCH_ROWS = 500
# Between batches: other writers (on SQLite, any writer) get the database.
PAUSE_SECONDS = 0.05
# A beat run stops starting batches after this long: it shares the
# maintenance queue with the sweeper, and a backlog is worked off over
# several runs rather than by holding a worker slot for minutes.
BEAT_BUDGET_SECONDS = 10.0


@dataclass(frozen=True)
class RetentionPolicy:
    days: int  # succeeded and cancelled commands
    failed_days: int  # failed ones, abandoned included

    @classmethod
    def from_settings(cls) -> RetentionPolicy:
        return cls(
            days=int(settings.FOUNDRY_HISTORY_DAYS),
            failed_days=int(settings.FOUNDRY_HISTORY_FAILED_DAYS),
        )

    def horizons(self) -> list[tuple[CommandStatus, int]]:
        return [
            (CommandStatus.SUCCEEDED, self.days),
            (CommandStatus.CANCELLED, self.days),
            (CommandStatus.FAILED, self.failed_days),
        ]

    def describe(self) -> str:
        return (
            f"Succeeded and cancelled commands are kept {self.days} days after they finish, "
            f"failed ones (abandoned included) {self.failed_days} days; then they are deleted "
            "with their steps. Open commands, and the commands they wait for or were caused "
            "by, are always kept."
        )


@dataclass
class StatusCount:
    """What goes (or would go) of one status."""

    status: CommandStatus
    kept_days: int
    commands: int = 0
    steps: int = 0
    oldest_finished: datetime | None = None


class _InFinishedIndex(Func):
    """``status IN ('succeeded', 'failed', 'cancelled')``, as the finished
    index's own condition is written. SQLite uses a partial index only when
    the query repeats that term with literal values (the ORM would bind
    them as parameters); PostgreSQL proves it from ``status = …`` alone and
    ignores the repetition."""

    template = "%(expressions)s IN (" + ", ".join(f"'{s.value}'" for s in FINISHED_STATUSES) + ")"
    output_field = BooleanField()


_IN_FINISHED_INDEX = _InFinishedIndex(F("status"))


def prunable(status: CommandStatus, finished_before: datetime) -> QuerySet[Command]:
    """Commands of ``status`` finished before the cutoff that no open command
    refers to. The references are uncorrelated subqueries over the (few)
    open commands, read once per query; a correlated NOT EXISTS let
    SQLite scan the whole table for every candidate."""
    open_commands = Command.objects.filter(status__in=OPEN_STATUSES)
    awaited = open_commands.filter(waiting_for__isnull=False).values("waiting_for_id")
    causes = open_commands.filter(caused_by__isnull=False).values("caused_by_id")
    return (
        Command.objects.filter(status=status, finished_at__lt=finished_before)
        .filter(_IN_FINISHED_INDEX)
        .exclude(pk__in=awaited)
        .exclude(pk__in=causes)
    )


def plan(policy: RetentionPolicy, *, now: datetime | None = None) -> list[StatusCount]:
    """Count what a prune would delete now, per status."""
    now = now or timezone.now()
    counts = []
    for status, days in policy.horizons():
        commands = prunable(status, now - timedelta(days=days))
        counts.append(StatusCount(
            status=status, kept_days=days, commands=commands.count(),
            steps=Step.objects.filter(command__in=commands.values("pk")).count(),
            oldest_finished=commands.aggregate(oldest=Min("finished_at"))["oldest"],
        ))
    return counts


def prune(
    policy: RetentionPolicy,
    *,
    now: datetime | None = None,
    batch_rows: int = BATCH_ROWS,
    pause_seconds: float = PAUSE_SECONDS,
    budget_seconds: float | None = None,
    on_batch: Callable[[CommandStatus, int, int], None] | None = None,
) -> list[StatusCount]:
    """Delete what the policy lets go, in batches; ``on_batch(status,
    commands, steps)`` after each. The cutoffs are fixed at ``now`` for the
    whole run. Stops starting batches after ``budget_seconds``."""
    now = now or timezone.now()
    started = time.monotonic()
    pruned = []
    for status, days in policy.horizons():
        count = StatusCount(status=status, kept_days=days)
        pruned.append(count)
        cutoff = now - timedelta(days=days)
        while budget_seconds is None or time.monotonic() - started < budget_seconds:
            commands, steps = prune_batch(status, cutoff, limit=batch_rows)
            if not commands:
                break
            count.commands += commands
            count.steps += steps
            if on_batch is not None:
                on_batch(status, commands, steps)
            time.sleep(pause_seconds)
    return pruned


def prune_batch(status: CommandStatus, finished_before: datetime, *, limit: int) -> tuple[int, int]:
    """Delete up to ``limit`` prunable commands of ``status`` and their
    steps in one transaction; return (commands, steps) deleted."""
    with _write_transaction():
        ids = list(
            prunable(status, finished_before)
            .order_by("finished_at")
            # Rows another transaction holds (an operator's retry) are left
            # for the next run instead of waited on.
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return 0, 0
        # The ORM's SET NULL, done here in two statements (kept commands
        # that pointed at these, all finished) instead of loading the rows.
        Command.objects.filter(caused_by_id__in=ids).update(caused_by=None)
        Command.objects.filter(waiting_for_id__in=ids).update(waiting_for=None)
        marks = ", ".join(["%s"] * len(ids))
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {Step._meta.db_table} WHERE command_id IN ({marks})", ids)
            steps = cursor.rowcount
            cursor.execute(f"DELETE FROM {Command._meta.db_table} WHERE id IN ({marks})", ids)
            commands = cursor.rowcount
    return commands, steps


@contextmanager
def _write_transaction() -> Iterator[None]:
    """A transaction that writes from its first statement. On SQLite a
    deferred transaction that reads first fails at once with "database is
    locked" when another connection committed since (WAL), so take the
    write lock up front; the batch is short."""
    if connection.vendor != "sqlite":
        with transaction.atomic():
            yield
        return
    # Connecting reads the mode from the settings: connect first.
    connection.ensure_connection()
    previous = connection.transaction_mode  # type: ignore[attr-defined]  # sqlite backend
    connection.transaction_mode = "IMMEDIATE"  # type: ignore[attr-defined]
    try:
        with transaction.atomic():
            yield
    finally:
        connection.transaction_mode = previous  # type: ignore[attr-defined]


def prune_history_task_body() -> int:
    """What beat runs on the maintenance queue: one budgeted prune."""
    pruned = prune(RetentionPolicy.from_settings(), budget_seconds=BEAT_BUDGET_SECONDS)
    total = sum(c.commands for c in pruned)
    if total:
        logger.info(
            "pruned history: %s",
            ", ".join(f"{c.commands} {c.status} ({c.steps} steps)" for c in pruned if c.commands),
        )
    return total


@shared_task(name="foundry.actors.prune_history", ignore_result=True)  # type: ignore[untyped-decorator]  # celery is untyped
def prune_history() -> int:
    return prune_history_task_body()
