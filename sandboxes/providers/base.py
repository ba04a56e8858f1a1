"""The provider interface: what the sandbox actor asks of a place to run in.

Promises every provider keeps:

- Each call is idempotent for a given (sandbox, generation), because a step
  that ran it may run again after a crash: ``create`` finds and reuses the
  half-made sandbox of the same generation, ``clone`` reuses a checkout of
  the right branch, ``start_agent_server`` stops any server of that sandbox
  it finds before it starts one, so at most one runs.
- "Not found", "expired", "paused" from the provider are expected states:
  they raise ``SandboxGone`` with the status to record, never a crash.
- Secrets (the git token) are passed in the environment of the one command
  that needs them, never in a URL, an argument list or a log.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, Protocol

GoneStatus = Literal["expired", "destroyed", "paused"]


@dataclass(frozen=True)
class SandboxSpec:
    org: str
    sandbox_id: str
    generation: int
    clone_url: str
    branch: str

    @property
    def name(self) -> str:
        """A name unique per sandbox and generation, fit for paths and keys."""
        return f"{self.org}--{self.sandbox_id}--g{self.generation}"


@dataclass(frozen=True)
class SandboxPlace:
    """Where a provider sandbox is, as the sandbox record keeps it: enough to
    find it (and its agent server process) again from any process."""

    provider_sandbox_id: str
    home_path: str = ""
    repo_path: str = ""
    agent_url: str = ""
    agent_token: str = ""
    server_pid: int | None = None
    server_started_at: float | None = None
    # The agent server was started again (it had died, or the sandbox was
    # resumed from a stop): the ACP sessions it held are gone.
    restarted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxPlace:
        return cls(**data)

    def but(self, **changes: Any) -> SandboxPlace:
        return replace(self, **changes)


class SandboxGone(Exception):
    """The provider says the sandbox is not there (an expected state)."""

    def __init__(self, status: GoneStatus, detail: str) -> None:
        super().__init__(status, detail)
        self.status: GoneStatus = status
        self.detail = detail

    def __str__(self) -> str:
        return f"sandbox {self.status}: {self.detail}"


class ProviderError(Exception):
    """A provider call failed for a reason that is not an expected state."""


class Provider(Protocol):
    name: str

    def create(self, spec: SandboxSpec) -> SandboxPlace: ...

    def clone(self, spec: SandboxSpec, place: SandboxPlace, *, token: str) -> SandboxPlace: ...

    def start_agent_server(self, spec: SandboxSpec, place: SandboxPlace) -> SandboxPlace: ...

    def connect(self, spec: SandboxSpec, place: SandboxPlace) -> SandboxPlace:
        """The sandbox running with a live agent server (restarted if it had
        stopped: ``restarted`` says so); ``SandboxGone`` if it is gone."""
        ...

    def probe(self, place: SandboxPlace) -> Literal["running", "paused", "stopped"]:
        """Ask without changing anything; ``SandboxGone`` if it is gone."""
        ...

    def keep_alive(self, place: SandboxPlace) -> None: ...

    def pause(self, place: SandboxPlace) -> None: ...

    def stop(self, place: SandboxPlace) -> None:
        """Stop the agent server, keep the sandbox (local idle stop)."""
        ...

    def destroy(self, place: SandboxPlace) -> None:
        """Gone already is fine."""
        ...
