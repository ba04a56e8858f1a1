"""Delete finished commands and their steps past the retention settings.

A dry run unless ``--yes``: it prints what would go, per status. Beat runs
the same pruning every ``FOUNDRY_HISTORY_PRUNE_SECONDS``; this command is for
looking first, and for working off a backlog at once.
"""

from __future__ import annotations

import io
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from foundry.actors.models import CommandStatus
from foundry.actors.retention import BATCH_ROWS, RetentionPolicy, StatusCount, plan, prune


class Command(BaseCommand):
    help = (
        "Delete finished commands and their steps older than FOUNDRY_HISTORY_DAYS "
        "(failed: FOUNDRY_HISTORY_FAILED_DAYS). Shows what would go unless --yes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="only show what would go (the default)"
        )
        parser.add_argument("--yes", action="store_true", help="delete")

    def handle(self, *args: Any, dry_run: bool, yes: bool, **options: Any) -> None:
        if dry_run and yes:
            raise CommandError("--dry-run and --yes contradict each other: pick one")
        policy = RetentionPolicy.from_settings()
        now = timezone.now()
        self.stdout.write(policy.describe())
        would_go = plan(policy, now=now)
        if not yes:
            self.stdout.write(_render(would_go, "Would go (dry run)", oldest=True))
            self.stdout.write("Nothing deleted. Run with --yes to delete.")
            return
        total = sum(c.commands for c in would_go)
        console = Console(stderr=True)
        columns = (
            TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        # A bar only when it takes more than one batch; the table says the rest.
        with Progress(*columns, console=console, disable=total <= BATCH_ROWS) as progress:
            bar = progress.add_task("pruning", total=total)

            def advance(status: CommandStatus, commands: int, steps: int) -> None:
                progress.update(bar, advance=commands, description=str(status))

            went = prune(policy, now=now, on_batch=advance)
        self.stdout.write(_render(went, "Deleted"))


def _render(counts: list[StatusCount], title: str, *, oldest: bool = False) -> str:
    table = Table(title=title)
    headers = ["status", "kept (days)", "commands", "steps"] + (["oldest finished"] * oldest)
    for header in headers:
        table.add_column(header, justify="left" if header == "status" else "right")
    for c in counts:
        row = [str(c.status), str(c.kept_days), f"{c.commands:,}", f"{c.steps:,}"]
        if oldest:
            when = c.oldest_finished
            row.append(timezone.localtime(when).strftime("%Y-%m-%d %H:%M") if when else "—")
        table.add_row(*row)
    commands, steps = sum(c.commands for c in counts), sum(c.steps for c in counts)
    table.add_row("total", "", f"{commands:,}", f"{steps:,}", *([""] * oldest), style="bold")
    buffer = io.StringIO()
    # Rendered to text: the table goes through self.stdout like any output.
    Console(file=buffer, width=100, color_system=None).print(table)
    return buffer.getvalue().rstrip("\n")
