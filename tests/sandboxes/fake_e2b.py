"""A fake of the e2b SDK's ``Sandbox`` class: the surface the E2B provider
calls, raising the SDK's own exceptions. Its state is a JSON file per
sandbox under ``FAKE_E2B_DIR`` (worker processes share it). Behind it the
rest is real: "starting sandbox-agent" in a fake sandbox starts the real
binary on a free local port (with the token it was given), ``get_host``
points there, pausing stops that process (SIGSTOP) and resuming continues
it, and expiring or killing a sandbox kills it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from e2b import SandboxNotFoundException, SandboxNotRunningException

from sandboxes.agent_binary import sandbox_agent_binary

HOME = "/home/user"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def state_dir() -> Path:
    return Path(os.environ["FAKE_E2B_DIR"])


def _path(sandbox_id: str) -> Path:
    return state_dir() / f"{sandbox_id}.json"


def load(sandbox_id: str) -> dict[str, Any]:
    path = _path(sandbox_id)
    if not path.exists():
        raise SandboxNotFoundException(f"sandbox {sandbox_id} not found")
    return dict(json.loads(path.read_text()))


def save(state: dict[str, Any]) -> None:
    _path(state["id"]).write_text(json.dumps(state))


def _alive(state: dict[str, Any]) -> dict[str, Any]:
    if state["state"] in ("killed", "expired"):
        raise SandboxNotFoundException(f"sandbox {state['id']} not found ({state['state']})")
    return state


def _signal_server(state: dict[str, Any], sig: int) -> None:
    if state.get("server_pid"):
        try:
            os.killpg(state["server_pid"], sig)
        except ProcessLookupError:
            pass


def expire(sandbox_id: str) -> None:
    """What E2B does when the timeout runs out: the sandbox is gone."""
    state = load(sandbox_id)
    _signal_server(state, signal.SIGKILL)
    state["state"] = "expired"
    save(state)


def all_states() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(state_dir().glob("*.json"))]


@dataclass
class CommandResult:
    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0


@dataclass
class Info:
    sandbox_id: str
    state: str


class FakeCommands:
    def __init__(self, sandbox_id: str) -> None:
        self.sandbox_id = sandbox_id

    def run(self, cmd: str, background: bool | None = None, envs: dict[str, str] | None = None,
            timeout: float | None = 60, **options: Any) -> CommandResult:
        state = _alive(load(self.sandbox_id))
        if state["state"] == "paused":
            raise SandboxNotRunningException(f"sandbox {self.sandbox_id} is paused")
        state["commands"].append({"cmd": cmd, "background": background, "envs": envs or {},
                                  "timeout": timeout})
        result = CommandResult()
        if cmd.startswith('printf %s "$HOME"'):
            result.stdout = HOME
        elif "npm pack" in cmd:
            result.stdout = f"{HOME}/.foundry/sandbox-agent-0.4.2/sandbox-agent"
        elif "pkill -f 'sandbox-agent server'" in cmd:
            _signal_server(state, signal.SIGKILL)
            state["server_pid"] = None
        elif " server " in cmd and background:
            port = int(re.search(r"--port (\d+)", cmd).group(1))  # type: ignore[union-attr]
            local = free_port()
            home = state_dir() / state["id"]
            home.mkdir(exist_ok=True)
            # Its output is kept: a server that died at start says why there.
            log = (home / f"server-{local}.log").open("wb")
            proc = subprocess.Popen(
                [str(sandbox_agent_binary()), "server",
                 f"--token={(envs or {})['FOUNDRY_AGENT_TOKEN']}",
                 "--no-telemetry", "--port", str(local)],
                env={"PATH": os.environ["PATH"], "HOME": str(home)},
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
            log.close()
            state["server_pid"] = proc.pid
            state["ports"] = {str(port): local}
        save(state)
        return result


class FakeSandbox:
    """The class surface of ``e2b.Sandbox`` the provider uses."""

    def __init__(self, sandbox_id: str) -> None:
        self.sandbox_id = sandbox_id
        self.commands = FakeCommands(sandbox_id)

    def get_host(self, port: int) -> str:
        local = load(self.sandbox_id).get("ports", {}).get(str(port))
        return f"127.0.0.1:{local or 9}"

    @classmethod
    def create(cls, template: str | None = None, timeout: int | None = None,
               metadata: dict[str, str] | None = None, idempotency_key: str | None = None,
               api_key: str | None = None, **options: Any) -> FakeSandbox:
        assert api_key, "the provider passes its API key"
        for state in all_states():
            if idempotency_key and state["idempotency_key"] == idempotency_key:
                return cls(state["id"])
        state = {"id": f"fake-{uuid.uuid4().hex[:8]}", "state": "running", "template": template,
                 "timeout": timeout, "metadata": metadata, "idempotency_key": idempotency_key,
                 "commands": [], "timeouts": [], "server_pid": None}
        save(state)
        return cls(state["id"])

    @classmethod
    def connect(cls, sandbox_id: str, timeout: int | None = None, **options: Any) -> FakeSandbox:
        state = _alive(load(sandbox_id))
        if state["state"] == "paused":  # connect resumes a paused sandbox
            _signal_server(state, signal.SIGCONT)
            state["state"] = "running"
            state["timeouts"].append(timeout)
            save(state)
        return cls(sandbox_id)

    @staticmethod
    def get_info(sandbox_id: str, **options: Any) -> Info:
        state = _alive(load(sandbox_id))
        return Info(sandbox_id, state["state"])

    @staticmethod
    def set_timeout(sandbox_id: str, timeout: int, **options: Any) -> None:
        state = _alive(load(sandbox_id))
        state["timeouts"].append(timeout)
        save(state)

    @staticmethod
    def pause(sandbox_id: str, **options: Any) -> bool:
        state = _alive(load(sandbox_id))
        _signal_server(state, signal.SIGSTOP)
        state["state"] = "paused"
        save(state)
        return True

    @staticmethod
    def kill(sandbox_id: str, **options: Any) -> bool:
        state = _alive(load(sandbox_id))
        _signal_server(state, signal.SIGKILL)
        state["state"] = "killed"
        save(state)
        return True
