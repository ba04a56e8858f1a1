"""sandbox-agent's process API: processes run inside a sandbox.

Start one (a TTY for the browser terminal, or a plain command), list them,
read their logs (numbered entries; ``since`` resumes), write to their input,
kill them; ``run`` executes a short command and returns its output (git
status and diff use it). Verified against sandbox-agent 0.4.2.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from sandboxes.agent_http import SandboxAgentClient


@dataclass(frozen=True)
class ProcessInfo:
    id: str
    command: str
    args: list[str]
    status: str  # running | exited
    tty: bool
    exit_code: int | None
    pid: int | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProcessInfo:
        return cls(
            id=str(data["id"]), command=str(data.get("command", "")),
            args=[str(a) for a in data.get("args") or []], status=str(data.get("status", "")),
            tty=bool(data.get("tty")), exit_code=data.get("exitCode"), pid=data.get("pid"),
        )


@dataclass(frozen=True)
class LogEntry:
    sequence: int
    stream: str  # stdout | stderr | pty
    data: bytes


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool


class ProcessClient:
    def __init__(self, client: SandboxAgentClient) -> None:
        self.client = client

    def start(
        self, command: str, args: list[str] | None = None, *, cwd: str | None = None,
        env: dict[str, str] | None = None, tty: bool = False, interactive: bool = False,
    ) -> ProcessInfo:
        body: dict[str, Any] = {"command": command, "args": args or [], "tty": tty,
                                "interactive": interactive}
        if cwd:
            body["cwd"] = cwd
        if env:
            body["env"] = env
        return ProcessInfo.from_json(self.client.json("POST", "/v1/processes", json=body))

    def list_processes(self) -> list[ProcessInfo]:
        data = self.client.json("GET", "/v1/processes")
        return [ProcessInfo.from_json(p) for p in data.get("processes", [])]

    def get(self, process_id: str) -> ProcessInfo:
        return ProcessInfo.from_json(self.client.json("GET", f"/v1/processes/{process_id}"))

    def logs(self, process_id: str, *, since: int = 0) -> list[LogEntry]:
        params = {"since": since} if since else None
        data = self.client.json("GET", f"/v1/processes/{process_id}/logs", params=params)
        return [
            LogEntry(int(e["sequence"]), str(e["stream"]), _decode(e))
            for e in data.get("entries", [])
        ]

    def write(self, process_id: str, data: bytes) -> int:
        body = {"data": base64.b64encode(data).decode(), "encoding": "base64"}
        answer = self.client.json("POST", f"/v1/processes/{process_id}/input", json=body)
        return int(answer.get("bytesWritten", 0))

    def kill(self, process_id: str) -> ProcessInfo:
        return ProcessInfo.from_json(self.client.json("POST", f"/v1/processes/{process_id}/kill"))

    def run(
        self, command: str, args: list[str] | None = None, *, cwd: str | None = None,
        env: dict[str, str] | None = None, timeout: float = 60.0,
    ) -> RunResult:
        """``env`` adds variables (a secret passed this way stays out of argv)."""
        body: dict[str, Any] = {"command": command, "args": args or []}
        if cwd:
            body["cwd"] = cwd
        if env:
            body["env"] = env
        data = self.client.json("POST", "/v1/processes/run", json=body, timeout=timeout)
        return RunResult(
            exit_code=data.get("exitCode"), stdout=str(data.get("stdout", "")),
            stderr=str(data.get("stderr", "")), timed_out=bool(data.get("timedOut")),
        )


def _decode(entry: dict[str, Any]) -> bytes:
    if entry.get("encoding") == "base64":
        return base64.b64decode(entry.get("data") or "")
    return str(entry.get("data") or "").encode()
