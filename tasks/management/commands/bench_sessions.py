"""Session latency and throughput, end to end.

Against a GitHub emulator started here (one demo repository, synced first),
local sandboxes with the demo agent, the task actor in a worker, the stream
consumer, and the ASGI app under uvicorn with a websocket client per
session:

- ``send_to_first_chunk_p50_ms``: ``send_message`` called → the turn's first
  agent chunk received on the session's websocket (the demo agent's own
  pause before a chunk included: ``demo_agent_pause_ms``);
- ``event_to_ws_p50_ms``: an event stored (after its commit) → received on
  the websocket, over ``--runs`` turns of one session;
- ``events_per_s``: ``--sessions`` sessions (over ``--tasks`` tasks) each
  running ``--turns`` turns at once: events stored per second, and
  ``events_lost`` / ``events_duplicated`` counted against what sandbox-agent
  itself kept of each agent's stream.

On the embedded default (in-memory broker and channel layer) the worker and
the stream consumer run in this process; otherwise a worker process and a
``stream_consumer`` process are started (Redis channel layer).
"""

from __future__ import annotations

import io
import json as json_module
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test import Client
from rich.console import Console

from foundry.actors.processes import CeleryProcesses
from github_data.models import GitHubRepository
from sandboxes.acp_client import AcpEventStream
from sandboxes.actor import sandbox
from sandboxes.bench_setup import use_emulator
from tasks import sessions
from tasks.benchmark import LiveServer, SessionDriver, drive
from tasks.models import Task
from tasks.session_models import EventSource, Session, SessionEvent
from users.models import Membership

DEMO_PAUSE_SECONDS = 0.01
QUEUES = ["actors.task", "actors.sandbox", "actors.organization", "actors.github_data",
          "maintenance"]


def p50(values: list[float]) -> float:
    return round(statistics.median(values), 1) if values else float("nan")


class Command(BaseCommand):
    help = "Sessions end to end: first chunk, event → websocket, 20 sessions at once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--runs", type=int, default=10, help="turns of the latency session")
        parser.add_argument("--sessions", type=int, default=20, help="sessions at once")
        parser.add_argument("--tasks", type=int, default=5, help="tasks they are spread over")
        parser.add_argument("--turns", type=int, default=3, help="turns of each of them")
        parser.add_argument("--json", action="store_true", help="end with a JSON line")

    def handle(self, *args: Any, runs: int, sessions: int, tasks: int, turns: int,
               json: bool, **options: Any) -> None:
        from github_data.emulator import EmulatorConfig, GitHubEmulator

        if min(runs, sessions, tasks, turns) < 1:
            raise CommandError("--runs, --sessions, --tasks and --turns must be at least 1")
        console = Console(stderr=True)
        os.environ.setdefault("FOUNDRY_DEMO_AGENT_PAUSE_SECONDS", str(DEMO_PAUSE_SECONDS))
        pause = float(os.environ["FOUNDRY_DEMO_AGENT_PAUSE_SECONDS"])
        with tempfile.TemporaryDirectory(prefix="bench-sessions-") as tmp, GitHubEmulator(
            EmulatorConfig(repos=1, branches_per_repo=1, prs_per_repo=0, members=1,
                           git_require_auth=True)
        ) as emulator:
            env = use_emulator(emulator, Path(tmp))
            background = self._start_background(console, Path(tmp), env)
            server = LiveServer()
            bench = Bench(emulator.org, console, server.port)
            try:
                call_command("full_sync", emulator.org, "--json", stdout=io.StringIO(),
                             stderr=io.StringIO())
                latency = bench.latency(runs)
                load = bench.load(sessions, tasks, turns)
            finally:
                bench.clean_up()
                server.stop()
                for stop in background:
                    stop()
        figures: dict[str, Any] = {
            "database": connection.vendor,
            "channel_layer": str(settings.CHANNEL_LAYERS["default"]["BACKEND"]).rsplit(".", 1)[-1],
            **latency, **load, "demo_agent_pause_ms": pause * 1000,
        }
        for figure, measured in figures.items():
            self.stdout.write(f"{figure:32} {measured}")
        if json:
            self.stdout.write(json_module.dumps(figures))

    def _start_background(self, console: Console, tmp: Path,
                          env: dict[str, str]) -> list[Any]:
        if settings.FOUNDRY_WORKER_MODE == "inprocess":
            from foundry.actors.inprocess import start_inprocess_worker
            from tasks.stream_consumer import start_stream_consumer

            start_inprocess_worker(concurrency=4)
            return [start_stream_consumer().stop]
        console.print("starting two worker processes and the stream consumer…")
        child_env = {**os.environ, **env}
        workers = CeleryProcesses(log_dir=tmp, env=child_env)
        workers.start_workers(count=2, queues=QUEUES)
        log = (tmp / "stream-consumer.log").open("wb")
        consumer = subprocess.Popen(
            [sys.executable, "manage.py", "stream_consumer", "--poll", "0.5"],
            cwd=settings.BASE_DIR, env=child_env, stdout=log, stderr=subprocess.STDOUT,
        )

        def stop_consumer() -> None:
            consumer.terminate()
            consumer.wait(timeout=10)

        return [stop_consumer, workers.stop]


class Bench:
    def __init__(self, org: str, console: Console, port: int) -> None:
        self.org = org
        self.console = console
        self.port = port
        self.prefix = f"bench-{uuid.uuid4().hex[:6]}"
        self.task_ids: list[str] = []
        self.user = get_user_model().objects.create_user(self.prefix)
        Membership.objects.create(user=self.user, org=org)
        client = Client()
        client.force_login(self.user)
        self.cookie = f"sessionid={client.cookies['sessionid'].value}"

    def task(self) -> str:
        repo = GitHubRepository.objects.filter(org=self.org).first()
        if repo is None:
            raise CommandError("the sync brought no repository")
        task_id = f"{self.prefix}-{len(self.task_ids) + 1}"
        Task.objects.create(org=self.org, task_id=task_id, repo_id=repo.github_id,
                            repo_full_name=repo.full_name, branch=repo.default_branch,
                            title=f"Benchmark {task_id}")
        self.task_ids.append(task_id)
        return task_id

    def driver(self, task_id: str, session_id: str, turns: int) -> SessionDriver:
        url = f"ws://127.0.0.1:{self.port}/ws/o/{self.org}/t/{task_id}/s/{session_id}/"
        return SessionDriver(self.org, task_id, session_id, url, self.cookie, turns)

    def latency(self, runs: int) -> dict[str, Any]:
        task_id = self.task()
        session_id = sessions.create_session(self.org, task_id)
        self.console.print(f"latency: {runs} turns of one session")
        driver = self.driver(task_id, session_id, runs)
        drive([driver])
        return {
            "runs": runs,
            "send_to_first_chunk_p50_ms": p50(driver.first_chunk_ms),
            "send_to_first_chunk_ms": [round(v, 1) for v in driver.first_chunk_ms],
            "send_message_p50_ms": p50(driver.send_ms),
            "event_to_ws_p50_ms": p50(driver.event_to_ws_ms),
            "event_to_ws_p90_ms": round(
                statistics.quantiles(driver.event_to_ws_ms, n=10)[-1], 1
            ) if len(driver.event_to_ws_ms) > 1 else float("nan"),
            "events_on_ws": len(driver.event_to_ws_ms),
        }

    def load(self, count: int, tasks: int, turns: int) -> dict[str, Any]:
        task_ids = [self.task() for _ in range(tasks)]
        started = time.perf_counter()
        pairs = [(task_ids[i % tasks], sessions.create_session(self.org, task_ids[i % tasks]))
                 for i in range(count)]
        self.console.print(f"load: {count} sessions created in "
                           f"{time.perf_counter() - started:.1f} s; {turns} turns each at once")
        drivers = [self.driver(t, s, turns) for t, s in pairs]
        before = SessionEvent.objects.filter(session__session_id__in=[s for _, s in pairs])
        stored_before = before.count()
        elapsed = drive(drivers)
        stored = before.count() - stored_before
        lost, duplicated, agent_events = self.check(pairs)
        on_ws = [ms for d in drivers for ms in d.event_to_ws_ms]
        return {
            "sessions": count, "tasks": tasks, "turns_per_session": turns,
            "events_stored": stored, "agent_events": agent_events,
            "load_seconds": round(elapsed, 2), "events_per_s": round(stored / elapsed, 1),
            "events_lost": lost, "events_duplicated": duplicated,
            "event_to_ws_p50_ms_under_load": p50(on_ws),
            "send_to_first_chunk_p50_ms_under_load": p50(
                [ms for d in drivers for ms in d.first_chunk_ms]
            ),
            "ws_gaps": sum(
                1 for d in drivers for a, b in zip(d.received, d.received[1:]) if b != a + 1
            ),
        }

    def check(self, pairs: list[tuple[str, str]]) -> tuple[int, int, int]:
        """Each session's stored agent envelopes against what sandbox-agent
        kept of its stream (up to the last turn's response)."""
        lost = duplicated = total = 0
        for task_id, session_id in pairs:
            session = Session.objects.get(org=self.org, session_id=session_id)
            stored = {
                (e.event_index or 0) - session.index_base: e.data
                for e in SessionEvent.objects.filter(session=session, source=EventSource.AGENT)
            }
            rows = SessionEvent.objects.filter(session=session, source=EventSource.AGENT).count()
            last_turn = f"turn-{session_id}-{session.turns}"
            handle = sandbox.get(org=self.org, sandbox=task_id)
            with handle.read("sandbox.read.agent_client") as client:
                for event in AcpEventStream(client, session.acp_server_id):
                    if stored.get(event.index) != event.envelope:
                        lost += 1
                    if event.kind == "response" and event.envelope.get("id") == last_turn:
                        break
            total += rows
            duplicated += rows - len(stored)
        return lost, duplicated, total

    def clean_up(self) -> None:
        for task_id in self.task_ids:
            try:
                sandbox.get(org=self.org, sandbox=task_id).send(
                    "sandbox.command.destroy", wait=True, timeout=60
                )
            except Exception as exc:
                self.console.print(f"could not destroy the sandbox of {task_id}: {exc}")
        Task.objects.filter(org=self.org, task_id__in=self.task_ids).delete()
        self.user.delete()
