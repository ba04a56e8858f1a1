"""Read actions of the sandbox actor: its row, and what its agent server
says (the agents it offers, its processes). They run in the caller and
never queue; a read that finds the agent server unreachable says so in its
answer (``available=False``), and the caller may send
``sandbox.command.check`` to have the actor ask the provider and record it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from foundry.actors import ActorError
from foundry.actors.handles import ActorHandle
from sandboxes.actor import sandbox
from sandboxes.agent_errors import AgentTransportError
from sandboxes.agent_http import SandboxAgentClient
from sandboxes.demo_agent.launcher import DEMO_AGENT_ID, DEMO_AGENT_LABEL
from sandboxes.models import Sandbox, SandboxStatus
from sandboxes.process_client import ProcessClient, ProcessInfo

AGENT_LABELS = {
    "claude": "Claude Code", "codex": "Codex", "opencode": "OpenCode", "amp": "Amp",
    "pi": "Pi", "cursor": "Cursor", "mock": "Mock (echo)",
}


class SandboxNotReady(ActorError):
    def __init__(self, org: str, sandbox_id: str, status: str) -> None:
        super().__init__(f"sandbox {org}/{sandbox_id} is {status}, not ready")
        self.status = status


@dataclass(frozen=True)
class SandboxOut:
    org: str
    sandbox_id: str
    provider: str
    status: str
    detail: str
    generation: int
    server_epoch: int
    branch: str
    repo_path: str
    agent_url: str
    last_keepalive_at: datetime | None


@dataclass(frozen=True)
class AgentOption:
    id: str
    label: str
    installed: bool
    credentials_available: bool


@dataclass(frozen=True)
class ProcessListing:
    available: bool
    status: str
    detail: str
    processes: list[ProcessInfo]


def _row(handle: ActorHandle) -> Sandbox | None:
    fields = handle.fields
    return Sandbox.objects.filter(org=fields["org"], sandbox_id=fields["sandbox"]).first()


@sandbox.read("sandbox.read.get")
def get_sandbox(handle: ActorHandle) -> SandboxOut | None:
    row = _row(handle)
    if row is None:
        return None
    return SandboxOut(
        org=row.org, sandbox_id=row.sandbox_id, provider=row.provider, status=row.status,
        detail=row.status_detail, generation=row.generation, server_epoch=row.server_epoch,
        branch=row.branch, repo_path=row.repo_path, agent_url=row.agent_url,
        last_keepalive_at=row.last_keepalive_at,
    )


@sandbox.read("sandbox.read.agent_client")
def agent_client(handle: ActorHandle) -> SandboxAgentClient:
    """A client of the ready sandbox's agent server (close it after use)."""
    row = _row(handle)
    if row is None or row.status != SandboxStatus.READY:
        fields = handle.fields
        raise SandboxNotReady(fields["org"], fields["sandbox"], row.status if row else "absent")
    return SandboxAgentClient(row.agent_url, token=row.agent_token)


@sandbox.read("sandbox.read.agents")
def list_agents(handle: ActorHandle) -> list[AgentOption]:
    """The agents to offer, as the sandbox's own ``GET /v1/agents`` lists them."""
    row = _row(handle)
    with agent_client(handle) as client:
        agents = client.agents()
    labels = dict(AGENT_LABELS)
    if row is not None and row.provider == "local":
        labels[DEMO_AGENT_ID] = DEMO_AGENT_LABEL  # the local provider installs it there
    return [
        AgentOption(
            id=a.id,
            label=labels.get(a.id, a.id),
            installed=a.installed,
            credentials_available=a.credentials_available,
        )
        for a in agents
    ]


@sandbox.read("sandbox.read.processes")
def list_processes(handle: ActorHandle) -> ProcessListing:
    """The sandbox's processes; an expired or unreachable sandbox is an
    answer (``available=False``), not an error."""
    row = _row(handle)
    if row is None:
        return ProcessListing(False, "absent", "never provisioned", [])
    if row.status != SandboxStatus.READY:
        return ProcessListing(False, row.status, row.status_detail, [])
    try:
        with agent_client(handle) as client:
            return ProcessListing(True, row.status, "", ProcessClient(client).list_processes())
    except AgentTransportError as exc:
        return ProcessListing(False, row.status, f"the agent server did not answer: {exc}", [])
