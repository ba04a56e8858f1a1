"""Fixtures for the sandbox tests: a real sandbox-agent server, a TCP proxy
that can cut connections, and local sandboxes cloned from the emulator."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sandboxes.agent_binary import sandbox_agent_binary
from sandboxes.agent_http import SandboxAgentClient
from sandboxes.providers.local import servers_in
from tests.github_data.conftest import (  # noqa: F401  (fixtures used here)
    app_key_pem,
    github_stack,
    make_emulator,
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class AgentServer:
    """A bare sandbox-agent (no sandbox around it) with its built-in mock agent."""

    home: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AgentServer:
        env = {"PATH": os.environ["PATH"], "HOME": str(self.home),
               "SANDBOX_AGENT_BIN": str(sandbox_agent_binary())}
        log = (self.home / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [str(sandbox_agent_binary()), "server", "--no-token", "--no-telemetry",
             "--port", str(self.port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        with SandboxAgentClient(self.url) as client:
            client.wait_healthy(timeout=10)
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@pytest.fixture
def agent_server(tmp_path: Path) -> Iterator[AgentServer]:
    home = tmp_path / "home"
    home.mkdir()
    subprocess.run(
        [str(sandbox_agent_binary()), "install-agent", "mock"],
        env={"PATH": os.environ["PATH"], "HOME": str(home)}, check=True, capture_output=True,
    )
    server = AgentServer(home).start()
    yield server
    server.kill()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``cut()`` drops every open
    connection (what a network blip does to a long SSE response)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self.accepted += 1
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass  # cut, or the other side closed
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        with self._lock:
            for s in self._open:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._open.clear()

    def close(self) -> None:
        self.listener.close()
        self.cut()


@pytest.fixture
def tcp_proxy() -> Iterator[Callable[[int], TcpProxy]]:
    made: list[TcpProxy] = []

    def make(port: int) -> TcpProxy:
        made.append(TcpProxy(port))
        return made[-1]

    yield make
    for proxy in made:
        proxy.close()


# --- local sandboxes against the emulator --------------------------------------------

SANDBOX_QUEUES = "actors.sandbox,maintenance"


@dataclass
class SandboxStack:
    stack: Any  # GitHubStack
    sandbox_dir: Path

    @property
    def emulator(self) -> Any:
        return self.stack.emulator

    def repository(self, repo: str = "repo-001", branch: str = "main") -> dict[str, Any]:
        return {"repo": f"{self.emulator.org}/{repo}", "clone_url": self.emulator.git_url(repo),
                "branch": branch, "installation_id": self.emulator.installation_id}

    def start_workers(self, count: int = 1, **options: Any) -> list[Any]:
        options.setdefault("queues", SANDBOX_QUEUES)
        return list(self.stack.workers.start(count=count, **options))

    def servers(self) -> list[Any]:
        """Every sandbox-agent server of every sandbox of this test."""
        found = []
        for directory in sorted(self.sandbox_dir.glob("*")):
            found += servers_in(directory)
        return found


@pytest.fixture
def sandbox_stack(
    github_stack: Callable[..., Any], settings: Any, tmp_path: Path  # noqa: F811 (a fixture)
) -> Iterator[Callable[..., SandboxStack]]:
    """``sandbox_stack()``: an emulator whose git needs a token, Foundry's
    sandboxes in a directory of this test (worker processes too)."""
    made: list[SandboxStack] = []

    def make(**config: Any) -> SandboxStack:
        config.setdefault("repos", 2)
        config.setdefault("branches_per_repo", 2)
        config.setdefault("prs_per_repo", 0)
        config.setdefault("git_require_auth", True)
        stack = github_stack(**config)
        sandbox_dir = tmp_path / "sandboxes"
        sandbox_dir.mkdir(exist_ok=True)
        settings.FOUNDRY_SANDBOX_DIR = sandbox_dir
        settings.FOUNDRY_SANDBOX_PROVIDER = "local"
        stack.workers.env.update(
            FOUNDRY_SANDBOX_DIR=str(sandbox_dir), FOUNDRY_SANDBOX_PROVIDER="local",
            FOUNDRY_DEMO_AGENT_PAUSE_SECONDS="0.02",
        )
        made.append(SandboxStack(stack, sandbox_dir))
        return made[-1]

    yield make
    for made_stack in made:
        for directory in made_stack.sandbox_dir.glob("*"):
            from sandboxes.providers.local import _stop

            _stop(servers_in(directory))
