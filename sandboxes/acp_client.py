"""ACP (Agent Client Protocol) over sandbox-agent's HTTP API.

An ``AcpConnection`` is one ACP server of a sandbox-agent: one agent process,
its sessions, and its event log. Requests are JSON-RPC envelopes POSTed to
``/v1/acp/{server}``; everything the agent says (session updates, its own
requests such as ``session/request_permission``, and the responses) comes
back on the server's SSE stream, numbered from 1.

Promises:

- ``AcpEventStream`` yields every envelope of the stream once, in order,
  across dropped connections: it resumes with ``Last-Event-ID`` (the index
  of the last event it yielded), skips what it already yielded, and when the
  first event after a resume is not the next index, it resumes once more
  (sandbox-agent subscribes a reader just after reading its replay buffer,
  so an envelope published in between is skipped by that connection); if
  the next index is still missing, the buffer (1,024 envelopes) no longer
  has it and ``StreamGap`` says which events are lost.
- A server that sandbox-agent no longer knows (it restarted: its agent
  processes and sessions died with it) raises ``AcpServerGone`` from any
  call or stream; open a new connection and new sessions then.
- Messages are built and read with the ``agent-client-protocol`` package's
  schema types, not by hand.

Limits: ``prompt`` holds its POST for the whole turn (sandbox-agent answers
it when the turn ends); hold it outside any actor command. Server ids are
random, so event indexes never restart under the same id. There is no
"close": sandbox-agent 0.4.2 does not answer ``DELETE /v1/acp/{server}``
(the request hangs, with its own mock agent too), so a server lives as
long as its sandbox-agent.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from acp import PROTOCOL_VERSION
from acp.schema import (
    AllowedOutcome,
    CancelNotification,
    ClientCapabilities,
    DeniedOutcome,
    FileSystemCapabilities,
    Implementation,
    InitializeRequest,
    InitializeResponse,
    NewSessionRequest,
    NewSessionResponse,
    PromptRequest,
    PromptResponse,
    RequestPermissionRequest,
    RequestPermissionResponse,
    SessionNotification,
    TextContentBlock,
)
from pydantic import BaseModel

from sandboxes.agent_errors import (
    AcpRequestFailed,
    AcpServerGone,
    AgentServerError,
    AgentServerUnreachable,
    StreamGap,
)
from sandboxes.agent_http import SandboxAgentClient

CLIENT_INFO = Implementation(name="foundry", title="Foundry", version="1")


def dump(model: BaseModel) -> dict[str, Any]:
    """A schema object as ACP's JSON (camelCase, no nulls)."""
    return dict(model.model_dump(mode="json", by_alias=True, exclude_none=True))


@dataclass(frozen=True)
class AcpEvent:
    """One envelope of an ACP server's stream, with its index there."""

    index: int
    envelope: dict[str, Any]

    @property
    def method(self) -> str | None:
        method = self.envelope.get("method")
        return str(method) if method is not None else None

    @property
    def kind(self) -> str:
        """``response`` (to one of our requests), ``request`` (the agent asks
        us something and waits) or ``notification``."""
        if self.method is None:
            return "response"
        return "request" if "id" in self.envelope else "notification"

    def session_update(self) -> SessionNotification | None:
        if self.method != "session/update":
            return None
        return SessionNotification.model_validate(self.envelope.get("params") or {})

    def permission_request(self) -> RequestPermissionRequest | None:
        if self.method != "session/request_permission":
            return None
        return RequestPermissionRequest.model_validate(self.envelope.get("params") or {})


class AcpEventStream:
    """Iterate over an ACP server's events from index ``after + 1`` on.

    ``close()`` (from any thread) ends the iteration quietly."""

    def __init__(
        self, client: SandboxAgentClient, server_id: str, *, after: int = 0,
        reconnects: int = 5, backoff: float = 0.2,
    ) -> None:
        self.client = client
        self.server_id = server_id
        self.last_event_id = after
        self.reconnects = reconnects
        self.backoff = backoff
        self.connections = 0  # how many times the stream was opened (tests, logs)
        self._closed = threading.Event()
        self._response_lock = threading.Lock()
        self._sources: list[Any] = []

    def close(self) -> None:
        self._closed.set()
        with self._response_lock:
            for response in self._sources:
                response.close()

    def __iter__(self) -> Iterator[AcpEvent]:
        failures = 0
        gap_at: int | None = None
        path = f"/v1/acp/{self.server_id}"
        while not self._closed.is_set():
            try:
                with self.client.event_source(
                    path, last_event_id=self.last_event_id,
                    what=f"event stream of ACP server {self.server_id!r}",
                ) as source:
                    self.connections += 1
                    with self._response_lock:
                        self._sources.append(source.response)
                    for sse in source.iter_sse():
                        if not sse.id:
                            continue
                        index = int(sse.id)
                        if index <= self.last_event_id:
                            continue  # replayed, yielded before
                        if index != self.last_event_id + 1:
                            if gap_at == self.last_event_id:
                                raise StreamGap(
                                    self.client.base_url, self.server_id,
                                    self.last_event_id, index,
                                )
                            gap_at = self.last_event_id
                            break  # resume once more: the buffer may still hold it
                        failures = 0
                        gap_at = None
                        self.last_event_id = index
                        yield AcpEvent(index, json.loads(sse.data))
            except AgentServerUnreachable:
                if self._closed.is_set():
                    return
                failures += 1
                if failures > self.reconnects:
                    raise
                time.sleep(self.backoff * failures)
            except (httpx.StreamClosed, httpx.ReadError):
                if self._closed.is_set():
                    return
                raise


class AcpConnection:
    """One ACP server on a sandbox-agent (see the module's promises)."""

    def __init__(self, client: SandboxAgentClient, server_id: str, agent: str) -> None:
        self.client = client
        self.server_id = server_id
        self.agent = agent
        self._prefix = uuid.uuid4().hex[:8]
        self._next_id = 0
        self._id_lock = threading.Lock()
        self.initialize_result: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"<AcpConnection {self.server_id} agent={self.agent} on {self.client.base_url}>"

    @classmethod
    def open(
        cls, client: SandboxAgentClient, agent: str, *, server_id: str | None = None,
        timeout: float = 120.0,
    ) -> AcpConnection:
        """Create a server for ``agent`` (its first POST starts the agent's
        process, installing it first if sandbox-agent can) and initialize it."""
        conn = cls(client, server_id or f"{agent}-{uuid.uuid4().hex[:12]}", agent)
        request = InitializeRequest(
            protocol_version=PROTOCOL_VERSION,
            client_capabilities=ClientCapabilities(
                fs=FileSystemCapabilities(read_text_file=False, write_text_file=False),
                terminal=False,
            ),
            client_info=CLIENT_INFO,
        )
        conn.initialize_result = conn.request(
            "initialize", dump(request), timeout=timeout, bootstrap=True
        )
        return conn

    def initialize_response(self) -> InitializeResponse:
        """The agent's answer to ``initialize`` as ACP defines it (the built-in
        ``mock`` agent only echoes, so this is not checked when opening)."""
        return InitializeResponse.model_validate(self.initialize_result or {})

    # -- JSON-RPC ---------------------------------------------------------------------

    def _request_id(self) -> str:
        # Unique across connections to the same server (a worker that
        # restarts builds a new AcpConnection for a server already in use).
        with self._id_lock:
            self._next_id += 1
            return f"{self._prefix}-{self._next_id}"

    def request(
        self, method: str, params: dict[str, Any], *, timeout: float | None = 30.0,
        bootstrap: bool = False,
    ) -> dict[str, Any]:
        envelope = {"jsonrpc": "2.0", "id": self._request_id(), "method": method,
                    "params": params}
        answer = self._post(envelope, bootstrap=bootstrap, timeout=timeout)
        if answer is None:
            raise AcpRequestFailed(self.server_id, method, {"message": "no response envelope"})
        if "error" in answer:
            raise AcpRequestFailed(self.server_id, method, dict(answer["error"]))
        return dict(answer.get("result") or {})

    def _post(
        self, envelope: dict[str, Any], *, bootstrap: bool = False,
        timeout: float | None = 30.0,
    ) -> dict[str, Any] | None:
        try:
            return self.client.acp_post(
                self.server_id, envelope, agent=self.agent if bootstrap else None,
                timeout=timeout,
            )
        except AgentServerError as exc:
            # Only the first POST names the agent; sandbox-agent asking for
            # it again means it no longer knows this server (it restarted).
            if not bootstrap and exc.kind == "invalid_request" and "first POST" in exc.detail:
                raise AcpServerGone(
                    self.client.base_url, f"POST /v1/acp/{self.server_id}", exc.status,
                    "session_not_found",
                    f"sandbox-agent no longer knows ACP server {self.server_id!r} (it "
                    "restarted: the agent process and its sessions are gone)",
                    exc.problem,
                ) from exc
            raise

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self._post({"jsonrpc": "2.0", "method": method, "params": params})

    def respond(self, request_id: Any, result: dict[str, Any]) -> None:
        """Answer a request the agent made (it arrived on the stream)."""
        self._post({"jsonrpc": "2.0", "id": request_id, "result": result})

    # -- ACP --------------------------------------------------------------------------

    def new_session(self, cwd: str) -> str:
        result = self.request(
            "session/new", dump(NewSessionRequest(cwd=cwd, mcp_servers=[])), timeout=120.0
        )
        return NewSessionResponse.model_validate(result).session_id

    def prompt(self, session_id: str, text: str, *, timeout: float | None = None) -> PromptResponse:
        """Send a prompt and wait for the end of the turn (its events arrive
        on the stream meanwhile)."""
        request = PromptRequest(
            session_id=session_id, prompt=[TextContentBlock(type="text", text=text)]
        )
        result = self.request("session/prompt", dump(request), timeout=timeout)
        return PromptResponse.model_validate(result)

    def cancel(self, session_id: str) -> None:
        self.notify("session/cancel", dump(CancelNotification(session_id=session_id)))

    def answer_permission(self, request_id: Any, option_id: str | None) -> None:
        """Select ``option_id`` of a ``session/request_permission``, or, with
        None, answer that the request was cancelled."""
        outcome: AllowedOutcome | DeniedOutcome = (
            AllowedOutcome(outcome="selected", option_id=option_id)
            if option_id is not None
            else DeniedOutcome(outcome="cancelled")
        )
        self.respond(request_id, dump(RequestPermissionResponse(outcome=outcome)))

    def events(self, *, after: int = 0) -> AcpEventStream:
        return AcpEventStream(self.client, self.server_id, after=after)

    def is_known(self) -> bool:
        """Whether sandbox-agent still has this server (it forgets every
        server when it restarts)."""
        return any(s.get("serverId") == self.server_id for s in self.client.acp_servers())


__all__ = ["AcpConnection", "AcpEvent", "AcpEventStream", "AcpServerGone", "dump"]
