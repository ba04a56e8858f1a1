"""Starting `celery worker` / `celery beat` processes from Python, for the
benchmarks and the tests that need real, killable workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings


@dataclass
class CeleryProcesses:
    log_dir: Path
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.log_dir / f"{name}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "foundry", *args],
            cwd=settings.BASE_DIR, env={**self.env, **(env or {})}, stdout=log.open("wb"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.processes.append(proc)
        self.logs.append(log)
        return proc, log

    def start_workers(
        self, *, count: int, queues: list[str], pool: str = "solo", concurrency: int = 1,
        env: dict[str, str] | None = None,
    ) -> list[subprocess.Popen[bytes]]:
        started = []
        for _ in range(count):
            name = f"worker{len(self.processes)}-{uuid.uuid4().hex[:6]}"
            started.append(self._spawn(name, [
                "worker", "-n", f"{name}@%h", "-P", pool, "-c", str(concurrency),
                "-Q", ",".join(queues), "-l", "INFO",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
            ], env))
        for proc, log in started:
            _wait_ready(proc, log)
        return [proc for proc, _ in started]

    def start_beat(self) -> subprocess.Popen[bytes]:
        schedule = str(self.log_dir / "beat-schedule")
        proc, _ = self._spawn("beat", ["beat", "-l", "INFO", "-s", schedule])
        return proc

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGCONT)  # a test may have paused it
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in self.processes:
            proc.wait(timeout=30)

    def output(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()}" for log in self.logs)


def _wait_ready(proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited with {proc.returncode}:\n{log.read_text()}")
        if b" ready." in log.read_bytes():
            return
        time.sleep(0.05)
    raise RuntimeError(f"celery worker not ready after {timeout}s:\n{log.read_text()}")
