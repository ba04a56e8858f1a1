"""HTTP client of one sandbox-agent server (its ``/v1`` API).

Promises: every call names the server and what it asked when it fails;
no answer at all is ``AgentServerUnreachable``, a problem+json answer the
matching ``AgentServerError`` subclass (``agent_errors.py``). The client is
synchronous (Celery workers and plain threads use it) and holds one
connection pool; ``close()`` it.

Limits: it retries nothing. Whoever holds a sandbox decides whether an
unreachable server means "restart it" or "the sandbox is gone".
"""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import certifi
import httpx
from httpx_sse import EventSource, connect_sse

from sandboxes.agent_errors import AgentServerUnreachable, problem_error

# Connecting is local or through the provider's proxy: seconds, not minutes.
CONNECT_TIMEOUT = 5.0
# Plain calls (health, agents, processes) answer at once.
CALL_TIMEOUT = 30.0


@dataclass(frozen=True)
class AgentInfo:
    """One agent sandbox-agent knows, as ``GET /v1/agents`` reports it."""

    id: str
    installed: bool
    credentials_available: bool
    capabilities: dict[str, bool]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AgentInfo:
        return cls(
            id=str(data["id"]),
            installed=bool(data.get("installed")),
            credentials_available=bool(data.get("credentialsAvailable")),
            capabilities={k: bool(v) for k, v in (data.get("capabilities") or {}).items()},
        )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: httpx builds a new one (the CA
    bundle loaded again) for every client, 20 ms each here, and a session's
    prompt made several clients."""
    return ssl.create_default_context(cafile=certifi.where())


class SandboxAgentClient:
    def __init__(self, base_url: str, *, token: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(CALL_TIMEOUT, connect=CONNECT_TIMEOUT),
            verify=_tls_context(),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SandboxAgentClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SandboxAgentClient {self.base_url}>"

    # -- plumbing ---------------------------------------------------------------------

    def request(
        self, method: str, path: str, *, what: str = "", timeout: float | None = CALL_TIMEOUT,
        **kwargs: Any,
    ) -> httpx.Response:
        """One request; a non-2xx answer raises its mapped error."""
        what = what or f"{method} {path}"
        try:
            response = self._http.request(
                method, path,
                timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT), **kwargs,
            )
        except httpx.TransportError as exc:
            raise AgentServerUnreachable(self.base_url, what, repr(exc)) from exc
        if response.is_error:
            raise problem_error(self.base_url, what, response.status_code, response.content)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    @contextmanager
    def event_source(
        self, path: str, *, last_event_id: int | None, what: str
    ) -> Iterator[EventSource]:
        """An SSE stream (no read timeout: sandbox-agent sends a keep-alive
        comment every 15 s, and a turn may be quiet for minutes)."""
        headers = {"Last-Event-ID": str(last_event_id)} if last_event_id else {}
        try:
            with connect_sse(
                self._http, "GET", path, headers=headers,
                timeout=httpx.Timeout(None, connect=CONNECT_TIMEOUT),
            ) as source:
                response = source.response
                if response.is_error:
                    response.read()
                    raise problem_error(
                        self.base_url, what, response.status_code, response.content
                    )
                yield source
        except httpx.TransportError as exc:
            raise AgentServerUnreachable(self.base_url, what, repr(exc)) from exc

    # -- the API ----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return dict(self.json("GET", "/v1/health", timeout=5.0))

    def wait_healthy(self, *, timeout: float, interval: float = 0.02) -> float:
        """Poll ``/v1/health`` until it answers ok; seconds waited."""
        started = time.monotonic()
        while True:
            try:
                if self.health().get("status") == "ok":
                    return time.monotonic() - started
            except AgentServerUnreachable:
                if time.monotonic() - started > timeout:
                    raise
            time.sleep(interval)

    def agents(self) -> list[AgentInfo]:
        data = self.json("GET", "/v1/agents")
        return [AgentInfo.from_json(a) for a in data.get("agents", [])]

    def install_agent(self, agent: str) -> dict[str, Any]:
        return dict(self.json("POST", f"/v1/agents/{agent}/install", timeout=600.0))

    def acp_servers(self) -> list[dict[str, Any]]:
        return list(self.json("GET", "/v1/acp").get("servers", []))

    def acp_post(
        self, server_id: str, envelope: dict[str, Any], *, agent: str | None = None,
        timeout: float | None = CALL_TIMEOUT,
    ) -> dict[str, Any] | None:
        """POST one JSON-RPC envelope: the response envelope (200), or None
        when sandbox-agent only accepted it (202: notifications, answers)."""
        method = envelope.get("method") or "response"
        response = self.request(
            "POST", f"/v1/acp/{server_id}",
            params={"agent": agent} if agent else None,
            json=envelope, timeout=timeout,
            what=f"POST /v1/acp/{server_id} ({method})",
        )
        if response.status_code == 202 or not response.content:
            return None
        return dict(response.json())
