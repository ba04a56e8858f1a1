"""Measure the command loop against raw Celery on the same broker and
workers, in one run. Prints a table; ``--json PATH`` writes the figures.
With ``--runs N`` the whole measurement repeats N times on the same
workers and every figure is the median of the N runs (the per-run figures
are kept under ``runs``)."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from foundry.actors.models import ActorInstance
from foundry.actors.models import Command as MailboxCommand
from foundry.actors.models import Step as MailboxStep
from foundry.actors.processes import CeleryProcesses

EXTRA_MODULE = "foundry.actors.benchmark"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _vacuum_runtime_tables() -> None:
    """Start (and leave) the runtime's tables without dead rows, so that runs
    compare: each run updates and deletes tens of thousands of rows, and a
    server with autovacuum off (this machine's) would slow down run by run."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in (ActorInstance, MailboxCommand, MailboxStep):
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


HISTORY_COMMANDS = 20_000


def _seed_history(run: str) -> None:
    """Give the mailbox the history a production one has (finished commands
    with their steps, 20,000 here), then let PostgreSQL analyze the tables.

    Without it each run would start from empty tables, and this machine's
    PostgreSQL (autovacuum off) would plan the loop's statements, prepared
    once per connection, for empty tables: sequential scans that get slower
    with every command the run adds. A production database has history and
    autovacuum keeps its statistics current."""
    if connection.vendor != "postgresql":
        return
    instance = ActorInstance.objects.create(actor_type="bench", key=f"{run}-history")
    commands, steps = MailboxCommand._meta.db_table, MailboxStep._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {commands} (instance_id, name, payload, status, result, error_type, "
            "error_message, traceback, attempts, parent_waits, reply_to, watched, enqueued_at, "
            "started_at, finished_at) SELECT %s, 'bench.command.two_steps', NULL, 'succeeded', "
            "'3', '', '', '', 1, FALSE, '', FALSE, now(), now(), now() "
            "FROM generate_series(1, %s)", [instance.pk, HISTORY_COMMANDS],
        )
        cursor.execute(
            f'INSERT INTO {steps} (command_id, "index", name, status, output, error_type, '
            "error_message, traceback, attempt, started_at, finished_at) "
            "SELECT c.id, i, CASE WHEN i = 0 THEN 'first' ELSE 'second' END, 'succeeded', "
            f"to_jsonb(i + 1), '', '', '', 1, now(), now() FROM {commands} c, "
            "generate_series(0, 1) i WHERE c.instance_id = %s", [instance.pk],
        )
    _vacuum_runtime_tables()


class Command(BaseCommand):
    help = "Benchmark the actor runtime against a raw Celery round-trip."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
        parser.add_argument("--roundtrips", type=int, default=300)
        parser.add_argument("--commands", type=int, default=2000, help="per throughput run")
        parser.add_argument("--runs", type=int, default=1, help="repeat, report medians")
        parser.add_argument("--json", dest="json_path", help="write the figures to this file")
        parser.add_argument("--log-dir", help="keep the workers' logs in this directory")

    def handle(self, *args: Any, workers: int, roundtrips: int, commands: int, runs: int,
               json_path: str | None, log_dir: str | None, **options: Any) -> None:
        if runs < 1:
            raise CommandError("--runs must be at least 1")
        if settings.CELERY_BROKER_URL.startswith("memory://"):
            raise CommandError(
                "bench_runtime needs a broker that worker processes share: set "
                "CELERY_BROKER_URL (and REDIS_URL for notifications), e.g. redis://127.0.0.1:6379/0"
            )
        if not settings.REDIS_URL:
            raise CommandError("bench_runtime needs REDIS_URL: waiters are woken through Redis")
        # The bench actor type must exist here and in the workers.
        from foundry.actors.benchmark import CELERY_QUEUE, bench, noop

        console = Console(stderr=True)
        extra_modules = [*settings.FOUNDRY_ACTOR_EXTRA_MODULES, EXTRA_MODULE]
        env = {**os.environ, "FOUNDRY_ACTOR_EXTRA_MODULES": ",".join(extra_modules)}
        run = uuid.uuid4().hex[:8]
        figures: dict[str, Any] = {
            "database": connection.vendor,
            "broker": settings.CELERY_BROKER_URL.split("://")[0],
            "worker_processes": workers,
            "history_commands": HISTORY_COMMANDS if connection.vendor == "postgresql" else 0,
        }
        measured: list[dict[str, float]] = []
        _vacuum_runtime_tables()
        _seed_history(run)
        with tempfile.TemporaryDirectory() as tmp:
            logs = Path(log_dir or tmp)
            logs.mkdir(parents=True, exist_ok=True)
            procs = CeleryProcesses(log_dir=logs, env=env)
            try:
                console.print(f"starting {workers} worker processes…")
                procs.start_workers(count=workers, queues=[bench.queue, CELERY_QUEUE])
                with Progress(console=console, transient=True) as progress:
                    for i in range(runs):
                        one: dict[str, float] = {}
                        label = f"run {i + 1}/{runs}: " if runs > 1 else ""
                        one.update(self._celery(
                            noop, CELERY_QUEUE, roundtrips, commands, progress, label
                        ))
                        one.update(self._runtime(
                            bench, f"{run}-{i}", roundtrips, commands, progress, label
                        ))
                        one["roundtrip_ratio"] = (
                            one["roundtrip_p50_ms"] / one["celery_roundtrip_p50_ms"]
                        )
                        one["throughput_100_ratio"] = (
                            one["throughput_100"] / one["celery_throughput"]
                        )
                        measured.append(one)
                        ActorInstance.objects.filter(
                            actor_type="bench", key__startswith=f"{run}-{i}-"
                        ).delete()
                        _vacuum_runtime_tables()
            finally:
                procs.stop()
                ActorInstance.objects.filter(actor_type="bench", key__startswith=run).delete()
                _vacuum_runtime_tables()
        figures.update({
            key: statistics.median(one[key] for one in measured) for key in measured[0]
        })
        if runs > 1:
            figures["runs"] = measured
        self._print(figures, runs)
        if json_path:
            Path(json_path).write_text(json.dumps(figures, indent=2) + "\n")

    def _timed(self, label: str, count: int, progress: Progress,
               fn: Callable[[int], None]) -> list[float]:
        # One sample per call: the round trip a caller sees.
        task = progress.add_task(label, total=count)
        samples = []
        for i in range(count):
            started = time.perf_counter()
            fn(i)
            samples.append((time.perf_counter() - started) * 1000)
            progress.advance(task)
        progress.remove_task(task)
        return samples

    def _celery(self, noop: Any, queue: str, roundtrips: int, commands: int,
                progress: Progress, label: str) -> dict[str, float]:
        def roundtrip(_: int) -> None:
            noop.apply_async(queue=queue).get(timeout=30)

        self._timed(f"{label}celery warm-up", 20, progress, roundtrip)
        samples = self._timed(f"{label}celery round-trips", roundtrips, progress, roundtrip)
        started = time.perf_counter()
        results = [noop.apply_async(queue=queue) for _ in range(commands)]
        for result in results:
            result.get(timeout=120)
        elapsed = time.perf_counter() - started
        return {
            "celery_roundtrip_p50_ms": statistics.median(samples),
            "celery_roundtrip_p99_ms": _percentile(samples, 0.99),
            "celery_throughput": commands / elapsed,
        }

    def _runtime(self, bench: Any, run: str, roundtrips: int, commands: int,
                 progress: Progress, label: str) -> dict[str, float]:
        name = "bench.command.two_steps"
        single = bench.create(name=f"{run}-rt")

        def roundtrip(_: int) -> None:
            assert single.send(name, None, wait=True, timeout=30) == 3

        self._timed(f"{label}runtime warm-up", 20, progress, roundtrip)
        samples = self._timed(f"{label}runtime round-trips", roundtrips, progress, roundtrip)

        one = bench.create(name=f"{run}-one")
        throughput_1 = self._throughput([one], name, commands)
        many = [bench.create(name=f"{run}-many-{i}") for i in range(100)]
        throughput_100 = self._throughput(many, name, commands)
        return {
            "roundtrip_p50_ms": statistics.median(samples),
            "roundtrip_p99_ms": _percentile(samples, 0.99),
            "throughput_1": throughput_1,
            "throughput_100": throughput_100,
        }

    def _throughput(self, handles: list[Any], name: str, commands: int) -> float:
        """Send round-robin, then wait for the last command of each instance:
        commands of one instance finish in order, so that is all of them."""
        started = time.perf_counter()
        refs = [handles[i % len(handles)].send(name) for i in range(commands)]
        for ref in refs[-len(handles):]:
            ref.wait(timeout=300)
        elapsed = time.perf_counter() - started
        ids = [r.id for r in refs]
        done = MailboxCommand.objects.filter(id__in=ids, status="succeeded").count()
        if done != commands:
            raise CommandError(f"only {done} of {commands} benchmark commands succeeded")
        return commands / elapsed

    def _print(self, f: dict[str, Any], runs: int) -> None:
        medians = f", medians of {runs} runs" if runs > 1 else ""
        table = Table(title=f"actor runtime on {f['database']} + {f['broker']}, "
                            f"{f['worker_processes']} worker processes{medians}")
        table.add_column("measure")
        table.add_column("runtime", justify="right")
        table.add_column("raw celery", justify="right")
        table.add_column("ratio", justify="right")
        table.add_row("round-trip p50 (ms)", f"{f['roundtrip_p50_ms']:.2f}",
                      f"{f['celery_roundtrip_p50_ms']:.2f}", f"{f['roundtrip_ratio']:.2f}x")
        table.add_row("round-trip p99 (ms)", f"{f['roundtrip_p99_ms']:.2f}",
                      f"{f['celery_roundtrip_p99_ms']:.2f}", "")
        table.add_row("throughput, 100 instances (/s)", f"{f['throughput_100']:.0f}",
                      f"{f['celery_throughput']:.0f}", f"{f['throughput_100_ratio']:.2f}x")
        table.add_row("throughput, 1 instance (/s)", f"{f['throughput_1']:.0f}", "", "")
        Console().print(table)
