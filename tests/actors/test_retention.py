"""History retention: old finished commands go with their steps, in batches;
open commands, and what they wait for or were caused by, stay.

Commands are sent through the real API; their finished history (status,
finish time, steps) is written with ORM updates, the way a worker would
have left it some weeks ago. Pruning itself runs for real: in this process,
as `manage.py prune_history` subprocesses, and as the beat task in a real
worker.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from foundry.actors.handles import ActorHandle
from foundry.actors.models import Command, CommandStatus, Step
from foundry.actors.retention import RetentionPolicy, plan, prunable, prune
from foundry.celery import app as celery_app
from tests.actor_types import probe
from tests.conftest import Workers, child_env, wait_until

POLICY = RetentionPolicy(days=30, failed_days=90)


def command(
    handle: ActorHandle, *, status: CommandStatus, days_ago: float | None = None,
    steps: int = 0, **fields: Any,
) -> Command:
    """A command sent for real, then given the history a worker would have
    written ``days_ago`` days back (``None``: left open)."""
    ref = handle.send("probe.command.double", {"n": 1})
    history: dict[str, Any] = {"status": status, **fields}
    if days_ago is not None:
        finished = timezone.now() - timedelta(days=days_ago)
        history.update(enqueued_at=finished - timedelta(seconds=2),
                       started_at=finished - timedelta(seconds=1), finished_at=finished)
    Command.objects.filter(pk=ref.id).update(**history)
    now = timezone.now()
    for index in range(steps):
        Step.objects.create(command_id=ref.id, index=index, name=f"step{index}",
                            status="succeeded", output={"index": index},
                            started_at=now, finished_at=now)
    return Command.objects.get(pk=ref.id)


@dataclass
class Mailbox:
    old_succeeded: Command  # 40 days, 2 steps: goes
    old_cancelled: Command  # 40 days: goes
    old_failed: Command  # 40 days: kept until 90
    older_failed: Command  # 100 days, 1 step: goes
    abandoned: Command  # failed with AbandonedCommand 100 days ago: goes
    recent: Command  # succeeded a day ago: kept
    open: Command  # queued since long ago: kept
    awaited: Command  # 40 days, an open command waits for it: kept
    waiting: Command  # open, waits for `awaited`
    cause: Command  # 40 days, caused an open command: kept
    caused: Command  # open, caused by `cause`
    old_parent: Command  # 40 days, caused only finished commands: goes
    recent_child: Command  # finished a day ago, caused by `old_parent`: kept, link cleared

    def gone(self) -> set[int]:
        return {c.pk for c in (self.old_succeeded, self.old_cancelled, self.older_failed,
                               self.abandoned, self.old_parent)}


def make_mailbox() -> Mailbox:
    a, b = probe.create(name="retention-a"), probe.create(name="retention-b")
    done, failed = CommandStatus.SUCCEEDED, CommandStatus.FAILED
    awaited = command(a, status=done, days_ago=40)
    cause = command(a, status=done, days_ago=40)
    old_parent = command(a, status=done, days_ago=40, steps=1)
    return Mailbox(
        old_succeeded=command(a, status=done, days_ago=40, steps=2),
        old_cancelled=command(a, status=CommandStatus.CANCELLED, days_ago=40),
        old_failed=command(a, status=failed, days_ago=40, error_type="ValueError", steps=1),
        older_failed=command(a, status=failed, days_ago=100, error_type="ValueError", steps=1),
        abandoned=command(a, status=failed, days_ago=100, error_type="AbandonedCommand"),
        recent=command(a, status=done, days_ago=1, steps=2),
        open=command(b, status=CommandStatus.QUEUED, enqueued_at=timezone.now()
                     - timedelta(days=200)),
        awaited=awaited,
        waiting=command(b, status=CommandStatus.WAITING, waiting_for=awaited,
                        wait_deadline=timezone.now() + timedelta(minutes=5)),
        cause=cause,
        caused=command(b, status=CommandStatus.QUEUED, caused_by=cause),
        old_parent=old_parent,
        recent_child=command(a, status=done, days_ago=1, caused_by=old_parent),
    )


def test_prune_keeps_open_recent_awaited_and_failed_commands(db: None) -> None:
    """Old succeeded and cancelled commands go with their steps; failed ones
    stay until the longer horizon (abandoned ones too); recent and open
    commands stay, and so do old ones an open command waits for or was
    caused by. A kept command caused by a pruned one loses only the link."""
    box = make_mailbox()
    before = set(Command.objects.values_list("pk", flat=True))
    planned = {c.status: (c.commands, c.steps) for c in plan(POLICY)}
    assert planned == {"succeeded": (2, 3), "cancelled": (1, 0), "failed": (2, 1)}

    pruned = {c.status: (c.commands, c.steps) for c in prune(POLICY, pause_seconds=0)}

    assert pruned == planned
    assert set(Command.objects.values_list("pk", flat=True)) == before - box.gone()
    assert not Step.objects.filter(command_id__in=box.gone()).exists()
    assert Step.objects.filter(command_id=box.recent.pk).count() == 2
    assert Step.objects.filter(command_id=box.old_failed.pk).count() == 1
    box.recent_child.refresh_from_db()
    assert box.recent_child.caused_by_id is None
    box.waiting.refresh_from_db()
    box.caused.refresh_from_db()
    assert (box.waiting.waiting_for_id, box.caused.caused_by_id) == (box.awaited.pk, box.cause.pk)
    assert all(c.commands == 0 for c in plan(POLICY))


def test_prune_works_in_batches(db: None) -> None:
    """A backlog larger than a batch goes in several batches, oldest first,
    each reported with its counts."""
    handle = probe.create(name="retention-batches")
    old = [command(handle, status=CommandStatus.SUCCEEDED, days_ago=60 - i, steps=1)
           for i in range(7)]
    batches: list[tuple[str, int, int]] = []

    prune(POLICY, batch_rows=3, pause_seconds=0,
          on_batch=lambda status, commands, steps: batches.append((status, commands, steps)))

    assert batches == [("succeeded", 3, 3), ("succeeded", 3, 3), ("succeeded", 1, 1)]
    assert not Command.objects.filter(pk__in=[c.pk for c in old]).exists()


def test_a_budgeted_prune_stops_between_batches(db: None) -> None:
    """The beat's prune has a time budget: once spent, it starts no new batch
    and the rest waits for the next run."""
    handle = probe.create(name="retention-budget")
    for i in range(4):
        command(handle, status=CommandStatus.SUCCEEDED, days_ago=60 - i)

    first = prune(POLICY, batch_rows=1, pause_seconds=0.3, budget_seconds=0.1)

    assert sum(c.commands for c in first) == 1
    assert Command.objects.filter(instance_id=handle.instance_id).count() == 3


def run_manage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=child_env(),
        capture_output=True, text=True, timeout=120,
    )


def test_prune_history_command_dry_run_then_yes(transactional_db: None) -> None:
    """`manage.py prune_history` (and `--dry-run`) prints a table of what
    would go and deletes nothing; `--yes` deletes it and prints what went."""
    box = make_mailbox()
    count = Command.objects.count()

    for args in ([], ["--dry-run"]):
        dry = run_manage("prune_history", *args)
        assert dry.returncode == 0, dry.stderr
        assert "Would go (dry run)" in dry.stdout and "Nothing deleted" in dry.stdout
        assert "kept 30 days" in dry.stdout and "90 days" in dry.stdout
        cells = [[c.strip() for c in line.strip("│").split("│")]
                 for line in dry.stdout.splitlines() if line.startswith("│")]
        rows = {row[0]: row[2:4] for row in cells}
        assert rows["succeeded"] == ["2", "3"] and rows["failed"] == ["2", "1"]
        assert rows["total"] == ["5", "4"]
        assert Command.objects.count() == count

    done = run_manage("prune_history", "--yes")
    assert done.returncode == 0, done.stderr
    assert "Deleted" in done.stdout
    assert Command.objects.count() == count - len(box.gone())
    assert not Command.objects.filter(pk__in=box.gone()).exists()


def test_prune_history_refuses_contradicting_flags(db: None) -> None:
    """--dry-run with --yes is an error, not a guess."""
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="contradict"):
        call_command("prune_history", "--dry-run", "--yes")


def test_beat_prunes_on_the_maintenance_queue(workers: Workers) -> None:
    """The beat schedule has the pruning task on the maintenance queue, and
    a worker of that queue runs it."""
    entry = settings.CELERY_BEAT_SCHEDULE["foundry.actors.prune_history"]
    assert entry["task"] == "foundry.actors.prune_history"
    assert entry["options"]["queue"] == "maintenance"
    handle = probe.create(name="retention-beat")
    old = command(handle, status=CommandStatus.SUCCEEDED, days_ago=45, steps=1)
    kept = command(handle, status=CommandStatus.SUCCEEDED, days_ago=2)
    workers.start(queues="maintenance")

    celery_app.send_task("foundry.actors.prune_history", queue="maintenance")

    wait_until(lambda: not Command.objects.filter(pk=old.pk).exists(), timeout=30,
               what="the beat task to prune the old command")
    assert Command.objects.filter(pk=kept.pk).exists()
    assert not Step.objects.filter(command_id=old.pk).exists()


def test_admin_says_what_history_is_kept(admin_client: Client) -> None:
    """The command list says how long finished and failed commands are kept."""
    page = admin_client.get(reverse("admin:actors_command_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="history-retention"' in html
    assert "kept 30 days after they finish" in html
    assert "failed ones (abandoned included) 90 days" in html


def test_the_batch_query_finds_old_commands_through_the_finished_index(db: None) -> None:
    """The query that picks a batch can use the partial index on finished
    commands (on SQLite only because it repeats the index's condition), and
    reads the open commands' references once, not once per candidate."""
    batch = (
        prunable(CommandStatus.SUCCEEDED, timezone.now())
        .order_by("finished_at").values_list("id", flat=True)[:500]
    )
    sql, params = batch.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A test table is tiny: forbid the sequential scan to see which
            # index the planner can use.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan_text = "\n".join(str(row[-1]) for row in cursor.fetchall())
    assert "actor_command_finished" in plan_text, plan_text
    if connection.vendor == "postgresql":
        assert plan_text.count("NOT (hashed SubPlan") == 2, plan_text
    else:
        assert plan_text.count("LIST SUBQUERY") == 2 and "CORRELATED" not in plan_text, plan_text
