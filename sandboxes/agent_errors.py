"""Errors of the agent transport, each naming the sandbox-agent it talked
to and what it asked.

sandbox-agent answers errors as problem+json (RFC 9457) with a ``type`` URN
(``urn:sandbox-agent:error:<kind>``); ``problem_error`` maps the kinds the
transport acts on to their own classes, the rest to ``AgentServerError``.
"""

from __future__ import annotations

from typing import Any


class AgentTransportError(Exception):
    """Anything that went wrong between Foundry and a sandbox-agent."""


class AgentServerUnreachable(AgentTransportError):
    """No HTTP answer at all: the server is down, restarting, or its sandbox
    is gone (the provider decides which)."""

    def __init__(self, base_url: str, what: str, cause: str) -> None:
        super().__init__(f"sandbox-agent at {base_url} is unreachable ({what}): {cause}")
        self.base_url = base_url


class AgentServerError(AgentTransportError):
    """A problem+json answer (or another non-2xx answer) of sandbox-agent."""

    def __init__(
        self, base_url: str, what: str, status: int, kind: str, detail: str,
        problem: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"sandbox-agent at {base_url}: {what} → {status} {kind}: {detail}")
        self.base_url = base_url
        self.status = status
        self.kind = kind
        self.detail = detail
        self.problem = problem or {}


class AcpServerGone(AgentServerError):
    """The ACP server (one agent process and its event log) is not known to
    sandbox-agent: it restarted since the server was created, or the server
    was closed. Its sessions are gone; open a new connection."""


class AgentNotInstalled(AgentServerError):
    """The agent is not installed and sandbox-agent could not install it."""


class AgentProcessExited(AgentServerError):
    """The agent's process ended while a request was in flight."""


class AgentRequestTimeout(AgentServerError):
    """sandbox-agent gave up waiting for the agent's answer."""


_KINDS: dict[str, type[AgentServerError]] = {
    "session_not_found": AcpServerGone,
    "agent_not_installed": AgentNotInstalled,
    "install_failed": AgentNotInstalled,
    "agent_process_exited": AgentProcessExited,
    "timeout": AgentRequestTimeout,
}


def problem_error(base_url: str, what: str, status: int, body: bytes) -> AgentServerError:
    """The exception for a non-2xx answer: its problem+json type, or the raw body."""
    import json

    try:
        problem = json.loads(body)
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        text = body.decode("utf-8", "replace")[:500]
        return AgentServerError(base_url, what, status, "http_error", text or "(empty body)")
    kind = str(problem.get("type", "")).rsplit(":", 1)[-1] or "unknown"
    detail = str(problem.get("detail") or problem.get("title") or "")
    details = problem.get("details")
    if isinstance(details, dict) and details.get("stderr"):
        detail = f"{detail} ({str(details['stderr'])[:300]})"
    cls = _KINDS.get(kind, AgentServerError)
    return cls(base_url, what, status, kind, detail, problem)


class StreamGap(AgentTransportError):
    """Events of an ACP server's stream can no longer be had: sandbox-agent
    keeps the last 1,024 envelopes per server, and a reader that fell
    further behind cannot resume without losing some."""

    def __init__(self, base_url: str, server_id: str, after: int, first_seen: int) -> None:
        super().__init__(
            f"sandbox-agent at {base_url}, ACP server {server_id!r}: resuming after event "
            f"{after} gave event {first_seen} first; events {after + 1}..{first_seen - 1} "
            "are no longer kept"
        )
        self.server_id = server_id
        self.after = after
        self.first_seen = first_seen


class AcpRequestFailed(AgentTransportError):
    """The agent answered a JSON-RPC request with an error object."""

    def __init__(self, server_id: str, method: str, error: dict[str, Any]) -> None:
        super().__init__(
            f"ACP server {server_id!r}: {method} failed with code {error.get('code')}: "
            f"{error.get('message')}"
            + (f" ({error['data']})" if error.get("data") is not None else "")
        )
        self.server_id = server_id
        self.method = method
        self.code = error.get("code")
        self.error = error
