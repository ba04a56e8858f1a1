"""Fixtures for the session tests: a task of a repository synced from the
emulator, real workers, the stream consumer as a real process, a member,
and websocket clients on the real ASGI app."""

from __future__ import annotations

import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from github_data.models import GitHubRepository
from tasks.benchmark import LiveServer as BenchLiveServer
from tasks.models import Task
from tests.sandboxes.conftest import (  # noqa: F401  (fixtures used here)
    SandboxStack,
    app_key_pem,
    free_port,
    github_stack,
    make_emulator,
    sandbox_stack,
)
from users.models import Membership

QUEUES = "actors.task,actors.sandbox,actors.organization,actors.github_data,actors.user,maintenance"


@dataclass
class ConsumerProcess:
    """``manage.py stream_consumer`` as a child process (killable)."""

    env: dict[str, str]
    log_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> ConsumerProcess:
        self.starts += 1
        log = (self.log_dir / f"stream-consumer-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "stream_consumer", "--poll", "0.2"],
            cwd=settings.BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class TaskStack:
    sandboxes: SandboxStack
    consumer: ConsumerProcess
    task: Task
    user: Any
    workers: list[Any] = field(default_factory=list)

    @property
    def org(self) -> str:
        return self.task.org

    def start_workers(self, count: int = 1) -> list[Any]:
        started = self.sandboxes.start_workers(count=count, queues=QUEUES)
        self.workers += started
        return started

    def cookie(self, user: Any) -> bytes:
        client = Client()
        client.force_login(user)
        return f"sessionid={client.cookies['sessionid'].value}".encode()


@pytest.fixture
def task_stack(sandbox_stack: Any, tmp_path: Path) -> Iterator[Callable[..., TaskStack]]:  # noqa: F811
    """``task_stack()``: an emulator whose repositories were fully synced,
    a ``Task`` record on ``repo-001``'s ``main``, a worker for every actor
    it touches, the stream consumer, and a member of the organization."""
    made: list[TaskStack] = []

    def make(*, workers: int = 1) -> TaskStack:
        stack = sandbox_stack(repos=1, members=2)
        started = stack.start_workers(count=workers, queues=QUEUES)
        out = io.StringIO()
        call_command("full_sync", stack.emulator.org, "--json", stdout=out,
                     stderr=io.StringIO())
        assert json.loads(out.getvalue().strip().splitlines()[-1])["repos"] == 1
        repo = GitHubRepository.objects.get(full_name=f"{stack.emulator.org}/repo-001")
        record = Task.objects.create(
            org=stack.emulator.org, task_id="task-1", repo_id=repo.github_id,
            repo_full_name=repo.full_name, branch="main", title="Improve the README",
        )
        user = get_user_model().objects.create_user("alice", password="unused-in-tests")
        Membership.objects.create(user=user, org=stack.emulator.org)
        consumer = ConsumerProcess(stack.stack.workers.env, tmp_path).start()
        made.append(TaskStack(stack, consumer, record, user, started))
        return made[-1]

    yield make
    for item in made:
        item.consumer.stop()


class LiveServer(BenchLiveServer):
    """The real ASGI app (``foundry.asgi``) under uvicorn, in a thread."""

    def stop(self) -> None:
        super().stop()
        # A consumer cancelled mid-receive by the stopping loop leaves the
        # process's Redis layer counting a receive of that dead loop: the
        # next server's sockets would fail with "Two event loops…".
        from channels.layers import channel_layers

        channel_layers.backends.clear()


class WsClient:
    """A websocket client (the ``websockets`` library) of the live server;
    a thread puts what it receives in ``messages``, in order, and a
    ``{"type": "closed", "code": ...}`` when the server closes."""

    def __init__(self, url: str, cookie: bytes | None) -> None:
        from websockets.sync.client import connect

        headers = {"Cookie": cookie.decode()} if cookie else {}
        # A browser's Origin: the socket only accepts its own site's pages.
        scheme, rest = url.split("://", 1)
        origin = ("https" if scheme == "wss" else "http") + "://" + rest.split("/")[0]
        self.ws = connect(url, additional_headers=headers, origin=origin, open_timeout=10,
                          legacy=True)
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                self.messages.put(json.loads(self.ws.recv()))
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else None
            self.messages.put({"type": "closed", "code": code})

    def next(self, timeout: float = 30) -> dict[str, Any]:
        return self.messages.get(timeout=timeout)

    def events_until(self, predicate: Callable[[dict[str, Any]], bool],
                     timeout: float = 60) -> list[dict[str, Any]]:
        got = []
        while True:
            message = self.next(timeout)
            if message["type"] == "closed":
                raise AssertionError(f"the server closed the socket: {message}")
            if message["type"] == "event":
                got.append(message)
                if predicate(message):
                    return got

    def close(self) -> None:
        self.ws.close()
        self._thread.join(timeout=10)


@pytest.fixture
def ws_clients(transactional_db: None) -> Iterator[Callable[..., WsClient]]:
    """``ws_clients(path, cookie)``: clients of a live server of this test."""
    server = LiveServer()
    made: list[WsClient] = []

    def make(path: str, cookie: bytes | None) -> WsClient:
        made.append(WsClient(f"ws://127.0.0.1:{server.port}{path}", cookie))
        return made[-1]

    yield make
    for client in made:
        client.close()
    server.stop()
