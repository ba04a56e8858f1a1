"""Provisioning and first-chunk latency of local sandboxes.

Against a GitHub emulator started here (one demo repository, git behind a
token) and the local provider: ``provision_p50_ms`` is from the provision
command sent to the sandbox ready (clone and agent server included, through
the actor runtime); ``prompt_first_chunk_p50_ms`` is from a prompt posted to
the demo agent to its first message chunk read from the stream, minus the
pause the demo agent makes before each chunk.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from rich.console import Console

from foundry.actors.processes import CeleryProcesses
from sandboxes.acp_client import AcpConnection
from sandboxes.actor import sandbox
from sandboxes.bench_setup import use_emulator

DEMO_PAUSE_SECONDS = 0.05


class Command(BaseCommand):
    help = "Local sandbox latency: provisioning and the demo agent's first chunk."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--runs", type=int, default=7, help="provisionings and prompts")
        parser.add_argument("--json", action="store_true", help="end with a JSON line")

    def handle(self, *args: Any, runs: int, json: bool, **options: Any) -> None:
        from github_data.emulator import EmulatorConfig, GitHubEmulator

        if runs < 1:
            raise CommandError("--runs must be at least 1")
        console = Console(stderr=True)
        os.environ.setdefault("FOUNDRY_DEMO_AGENT_PAUSE_SECONDS", str(DEMO_PAUSE_SECONDS))
        pause = float(os.environ["FOUNDRY_DEMO_AGENT_PAUSE_SECONDS"])
        with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp, GitHubEmulator(
            EmulatorConfig(repos=1, branches_per_repo=2, prs_per_repo=0, members=1,
                           git_require_auth=True)
        ) as emulator:
            env = use_emulator(emulator, Path(tmp))
            workers = self._start_worker(console, Path(tmp), env)
            org = f"bench-{uuid.uuid4().hex[:6]}"
            repository = {"repo": f"{emulator.org}/repo-001", "branch": "main",
                          "clone_url": emulator.git_url("repo-001"),
                          "installation_id": emulator.installation_id}
            handles = [sandbox.get_or_create(org=org, sandbox=f"s{i}") for i in range(runs)]
            try:
                provision_ms = []
                for handle in handles:
                    started = time.perf_counter()
                    handle.send("sandbox.command.provision", repository, wait=True, timeout=120)
                    provision_ms.append((time.perf_counter() - started) * 1000)
                console.print(f"provisioned {runs} sandboxes")
                first_chunk_ms = self._first_chunks(handles[0], runs, pause)
            finally:
                for handle in handles:
                    handle.send("sandbox.command.destroy", wait=True, timeout=60)
                if workers is not None:
                    workers.stop()
        figures: dict[str, Any] = {
            "database": connection.vendor,
            "runs": runs,
            "provision_p50_ms": round(statistics.median(provision_ms), 1),
            "provision_ms": [round(v, 1) for v in provision_ms],
            "prompt_first_chunk_p50_ms": round(statistics.median(first_chunk_ms), 1),
            "prompt_first_chunk_ms": [round(v, 1) for v in first_chunk_ms],
            "demo_agent_pause_ms": pause * 1000,
        }
        for figure, measured in figures.items():
            if not isinstance(measured, list):
                self.stdout.write(f"{figure:28} {measured}")
        if json:
            import json as json_module

            self.stdout.write(json_module.dumps(figures))

    def _start_worker(self, console: Console, tmp: Path,
                      env: dict[str, str]) -> CeleryProcesses | None:
        if settings.FOUNDRY_WORKER_MODE == "inprocess":
            from foundry.actors.inprocess import start_inprocess_worker

            start_inprocess_worker(concurrency=2)
            return None
        console.print("starting a worker process for the sandbox queue…")
        workers = CeleryProcesses(log_dir=tmp, env={**os.environ, **env})
        workers.start_workers(count=1, queues=[sandbox.queue, "maintenance"])
        return workers

    def _first_chunks(self, handle: Any, runs: int, pause: float) -> list[float]:
        """Prompt the demo agent ``runs`` times in one session (each turn's
        permission request denied, so the repository stays as it was)."""
        with handle.read("sandbox.read.agent_client") as client:
            conn = AcpConnection.open(client, "mock")
            out = handle.read("sandbox.read.get")
            session_id = conn.new_session(out.repo_path)
            last = 0
            measured = []
            for i in range(runs):
                stream = conn.events(after=last)
                poster = threading.Thread(target=conn.prompt, args=(session_id, f"bench {i}"))
                started = time.perf_counter()
                poster.start()
                first: float | None = None
                for event in stream:
                    update = event.session_update()
                    if first is None and update is not None and (
                        update.update.session_update == "agent_message_chunk"
                    ):
                        first = (time.perf_counter() - started - pause) * 1000
                    if event.permission_request() is not None:
                        conn.answer_permission(event.envelope["id"], "deny")
                    if event.kind == "response" and "stopReason" in (
                        event.envelope.get("result") or {}
                    ):
                        break
                last = stream.last_event_id
                poster.join(timeout=30)
                if first is None:
                    raise CommandError("the demo agent's turn ended without a message chunk")
                measured.append(first)
        return measured



