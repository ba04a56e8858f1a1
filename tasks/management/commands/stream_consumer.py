"""``python manage.py stream_consumer``: the agents' event streams into the
session event store, in a process of its own (see tasks/stream_consumer.py)."""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tasks.stream_consumer import StreamConsumer


class Command(BaseCommand):
    help = "Read the agents' event streams of running sessions into the event store."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--poll", type=float, default=0.5,
                            help="seconds between looks for running sessions")

    def handle(self, *args: Any, poll: float, **options: Any) -> None:
        consumer = StreamConsumer(poll_seconds=poll)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: consumer.stop())
        self.stdout.write("stream consumer running", ending="\n")
        self.stdout.flush()
        consumer.run_forever()
