"""The local provider: a directory per sandbox, a sandbox-agent child process.

Each sandbox (and generation) gets ``FOUNDRY_SANDBOX_DIR/<org>--<id>--g<n>/``
with its own ``home/`` (the agent server's ``HOME``, so each sandbox has its
own agents and credentials) and the repository at ``home/repo``, cloned over
git HTTP with the token in git's environment only (``git_auth.py``). The
real sandbox-agent binary runs there as a child in its own session (it
outlives the worker that started it) on a free port of 127.0.0.1; the demo
agent is installed into its launcher directory.

Promises: at most one agent server per sandbox directory. Servers are found
by a marker in their environment (``FOUNDRY_SANDBOX_DIR``), not only by the
recorded pid, so a server started by a worker killed before it recorded
the pid is found and stopped too; the recorded pid and start time find the
live one again after a web or worker restart. A stopped server is started
again on the next use (``restarted``: its ACP sessions are gone).

Not a security boundary: the agents run as the operator's user, with the
operator's files and network in reach. Use E2B for isolation.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Literal

import psutil
from django.conf import settings

from sandboxes.agent_binary import sandbox_agent_binary
from sandboxes.agent_errors import AgentTransportError
from sandboxes.agent_http import SandboxAgentClient
from sandboxes.demo_agent.launcher import install_demo_agent
from sandboxes.git_auth import git_auth_env
from sandboxes.providers.base import ProviderError, SandboxGone, SandboxPlace, SandboxSpec

MARKER = "FOUNDRY_SANDBOX_DIR"
# Fault injection for the tests only: a worker that started a server and
# has not recorded it yet, held there so that it can be killed.
FAULT_PAUSE_AFTER_START = "FOUNDRY_SANDBOX_FAULT_PAUSE_AFTER_START_SECONDS"
# sandbox-agent answers a session/prompt POST when the turn ends and gives
# up after 2 minutes by default; turns of real agents run longer.
ACP_REQUEST_TIMEOUT_MS = "3600000"
# Keys of real agents, passed to the agent server when the operator set them.
AGENT_KEY_VARIABLES = (
    "ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "OPENAI_API_KEY", "CODEX_API_KEY",
    "AMP_API_KEY", "OPENROUTER_API_KEY", "FOUNDRY_DEMO_AGENT_PAUSE_SECONDS",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def servers_in(directory: Path) -> list[psutil.Process]:
    """Every live sandbox-agent server started for ``directory``."""
    found = []
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] != "sandbox-agent":
            continue
        try:
            if proc.environ().get(MARKER) == str(directory):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue  # gone meanwhile, or not ours to read: not one of ours
    return found


def _stop(procs: list[psutil.Process], *, grace: float = 2.0) -> None:
    """Stop servers with their agent processes (their process group)."""
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    psutil.wait_procs(alive, timeout=grace)


class LocalProvider:
    name = "local"

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root or settings.FOUNDRY_SANDBOX_DIR)

    def directory(self, place_or_spec: SandboxPlace | SandboxSpec) -> Path:
        name = (
            place_or_spec.name if isinstance(place_or_spec, SandboxSpec)
            else place_or_spec.provider_sandbox_id
        )
        return self.root / name

    # -- provisioning -----------------------------------------------------------------

    def create(self, spec: SandboxSpec) -> SandboxPlace:
        directory = self.directory(spec)
        home = directory / "home"
        home.mkdir(parents=True, exist_ok=True)
        install_demo_agent(home, project_root=Path(settings.BASE_DIR))
        return SandboxPlace(
            provider_sandbox_id=spec.name, home_path=str(home), repo_path=str(home / "repo")
        )

    def _git(self, place: SandboxPlace, *args: str, env: dict[str, str] | None = None,
             cwd: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args], cwd=cwd or place.repo_path, capture_output=True, text=True,
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": place.home_path,
                "LANG": "C.UTF-8", "GIT_CONFIG_NOSYSTEM": "1", **(env or {}),
            },
            timeout=600, check=False,
        )

    def clone(self, spec: SandboxSpec, place: SandboxPlace, *, token: str) -> SandboxPlace:
        repo = Path(place.repo_path)
        if (repo / ".git").is_dir():
            head = self._git(place, "rev-parse", "--abbrev-ref", "HEAD")
            if head.returncode == 0 and head.stdout.strip() == spec.branch:
                return place  # a checkout of the right branch: a step that ran before
            shutil.rmtree(repo)
        elif repo.exists():
            shutil.rmtree(repo)  # a clone interrupted half-way
        auth = git_auth_env(spec.clone_url, token)
        cloned = self._git(
            place, "clone", "--quiet", "--no-tags", spec.clone_url, str(repo),
            env=auth, cwd=place.home_path,
        )
        if cloned.returncode != 0:
            raise ProviderError(
                f"git clone of {spec.clone_url} into {repo} failed: {cloned.stderr.strip()}"
            )
        remote = self._git(place, "rev-parse", "--verify", "--quiet", f"origin/{spec.branch}")
        checkout = (
            ["checkout", "--quiet", "-B", spec.branch, f"origin/{spec.branch}"]
            if remote.returncode == 0
            else ["checkout", "--quiet", "-b", spec.branch]  # a new branch of the task
        )
        done = self._git(place, *checkout)
        if done.returncode != 0:
            raise ProviderError(
                f"git {' '.join(checkout)} in {repo} failed: {done.stderr.strip()}"
            )
        return place

    def start_agent_server(self, spec: SandboxSpec, place: SandboxPlace) -> SandboxPlace:
        return self._start(place, restarted=False)

    def _start(self, place: SandboxPlace, *, restarted: bool) -> SandboxPlace:
        directory = self.directory(place)
        # A server a crashed worker started, or one that hangs: at most one
        # server per sandbox, so stop them all first.
        _stop(servers_in(directory))
        port = _free_port()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": place.home_path,
            "LANG": "C.UTF-8",
            "SANDBOX_AGENT_BIN": str(sandbox_agent_binary()),
            "SANDBOX_AGENT_ACP_REQUEST_TIMEOUT_MS": ACP_REQUEST_TIMEOUT_MS,
            MARKER: str(directory),
            **{k: os.environ[k] for k in AGENT_KEY_VARIABLES if os.environ.get(k)},
        }
        log = (directory / "agent-server.log").open("ab")
        with log:
            proc = subprocess.Popen(
                [str(sandbox_agent_binary()), "server", "--no-token", "--no-telemetry",
                 "--host", "127.0.0.1", "--port", str(port)],
                cwd=place.repo_path if Path(place.repo_path).is_dir() else place.home_path,
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the worker; one group to stop
            )
        started_at = psutil.Process(proc.pid).create_time()
        url = f"http://127.0.0.1:{port}"
        with SandboxAgentClient(url) as client:
            try:
                client.wait_healthy(timeout=settings.FOUNDRY_SANDBOX_HEALTH_TIMEOUT_SECONDS)
            except AgentTransportError as exc:
                _stop(servers_in(directory))
                raise ProviderError(
                    f"sandbox-agent in {directory} did not become healthy: {exc} "
                    f"(see {directory / 'agent-server.log'})"
                ) from exc
        fault_pause = float(os.environ.get(FAULT_PAUSE_AFTER_START) or 0)
        if fault_pause:
            time.sleep(fault_pause)  # the tests kill the worker here
        return place.but(
            agent_url=url, server_pid=proc.pid, server_started_at=started_at,
            restarted=restarted,
        )

    # -- later uses -------------------------------------------------------------------

    def _live_server(self, place: SandboxPlace) -> bool:
        if place.server_pid is None:
            return False
        try:
            proc = psutil.Process(place.server_pid)
            alive = proc.create_time() == place.server_started_at and proc.is_running()
            return bool(alive and proc.status() != psutil.STATUS_ZOMBIE)
        except psutil.NoSuchProcess:
            return False

    def _healthy(self, place: SandboxPlace) -> bool:
        with SandboxAgentClient(place.agent_url) as client:
            try:
                return bool(client.health().get("status") == "ok")
            except AgentTransportError:
                return False

    def _require_directory(self, place: SandboxPlace) -> None:
        if not Path(place.home_path).is_dir():
            raise SandboxGone(
                "destroyed", f"the sandbox directory {self.directory(place)} is gone"
            )

    def connect(self, spec: SandboxSpec, place: SandboxPlace) -> SandboxPlace:
        self._require_directory(place)
        if self._live_server(place) and self._healthy(place):
            return place.but(restarted=False)
        return self._start(place, restarted=True)

    def probe(self, place: SandboxPlace) -> Literal["running", "paused", "stopped"]:
        self._require_directory(place)
        return "running" if self._live_server(place) else "stopped"

    def keep_alive(self, place: SandboxPlace) -> None:
        self._require_directory(place)  # nothing times a local sandbox out

    def pause(self, place: SandboxPlace) -> None:
        self.stop(place)

    def stop(self, place: SandboxPlace) -> None:
        _stop(servers_in(self.directory(place)))

    def destroy(self, place: SandboxPlace) -> None:
        directory = self.directory(place)
        _stop(servers_in(directory))
        # The directory's files may be read-only (git objects): rmtree copes.
        deadline = time.monotonic() + 5
        while directory.exists():
            shutil.rmtree(directory, ignore_errors=time.monotonic() < deadline)
