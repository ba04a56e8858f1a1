"""The ACP transport against the real sandbox-agent binary and its
built-in ``mock`` agent (it echoes each request as a ``mock/echo``
notification, then answers ``{"echoed": <request>}``)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from sandboxes.acp_client import AcpConnection, AcpEvent
from sandboxes.agent_errors import (
    AcpServerGone,
    AgentNotInstalled,
    AgentServerError,
    AgentServerUnreachable,
)
from sandboxes.agent_http import SandboxAgentClient
from tests.sandboxes.conftest import AgentServer, TcpProxy


def collect(stream: Any, count: int, timeout: float = 10) -> list[AcpEvent]:
    """The next ``count`` events of a stream, read in a thread (a stream
    blocks while nothing comes)."""
    got: list[AcpEvent] = []
    done = threading.Event()

    def read() -> None:
        for event in stream:
            got.append(event)
            if len(got) == count:
                break
        done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(timeout), f"only {len(got)} of {count} events after {timeout}s"
    return got


def test_initialize_prompt_and_the_event_stream(agent_server: AgentServer) -> None:
    """initialize and session/new answer on their POST; every request also
    comes back on the SSE stream, numbered from 1, with the responses."""
    with SandboxAgentClient(agent_server.url) as client:
        assert client.health() == {"status": "ok"}
        mock = {a.id: a for a in client.agents()}["mock"]
        assert mock.installed
        conn = AcpConnection.open(client, "mock")
        echoed = conn.request("session/new", {"cwd": "/tmp", "mcpServers": []})
        assert echoed["echoed"]["method"] == "session/new"
        assert conn.is_known()
        conn.notify("session/cancel", {"sessionId": "s"})

        events = collect(conn.events(), 5)
        assert [e.index for e in events] == [1, 2, 3, 4, 5]
        assert [(e.kind, e.method) for e in events] == [
            ("notification", "mock/echo"), ("response", None),
            ("notification", "mock/echo"), ("response", None),
            ("notification", "mock/echo"),
        ]
        assert events[2].envelope["params"]["message"]["method"] == "session/new"


def test_a_dropped_stream_resumes_with_last_event_id(
    agent_server: AgentServer, tcp_proxy: Any
) -> None:
    """The stream is cut twice while the agent keeps talking: the reader
    reconnects with Last-Event-ID and sees every event once, in order."""
    proxy: TcpProxy = tcp_proxy(agent_server.port)
    with SandboxAgentClient(agent_server.url) as direct, \
            SandboxAgentClient(proxy.url) as through_proxy:
        conn = AcpConnection.open(direct, "mock")
        stream = AcpConnection(through_proxy, conn.server_id, "mock").events()
        stream.backoff = 0.05
        got: list[AcpEvent] = []
        reading = threading.Thread(
            target=lambda: got.extend(e for e in stream), daemon=True
        )
        reading.start()
        for round_ in range(3):
            for i in range(4):
                conn.request("session/new", {"cwd": f"/r{round_}/{i}", "mcpServers": []})
            deadline = time.monotonic() + 10
            while len(got) < 2 + 8 * (round_ + 1) and time.monotonic() < deadline:
                time.sleep(0.02)
            if round_ < 2:
                proxy.cut()  # the events of the next round arrive while it is down
        stream.close()
        reading.join(timeout=5)

    assert [e.index for e in got] == list(range(1, 27))
    cwds = [e.envelope["params"]["message"]["params"]["cwd"]
            for e in got if e.method == "mock/echo" and e.index > 2]
    assert cwds == [f"/r{r}/{i}" for r in range(3) for i in range(4)]
    assert stream.connections >= 3


def test_sandbox_agent_restarted_is_a_clear_error_then_a_new_session_works(
    agent_server: AgentServer,
) -> None:
    """A restart of sandbox-agent forgets its ACP servers: posting to the old
    one and resuming its stream raise AcpServerGone; a new connection works."""
    with SandboxAgentClient(agent_server.url) as client:
        conn = AcpConnection.open(client, "mock")
        stream = conn.events()
        stream.backoff = 0.05
        assert [e.index for e in collect(stream, 2)] == [1, 2]

        agent_server.kill()
        with pytest.raises(AgentServerUnreachable, match="unreachable"):
            client.health()
        agent_server.start()

        with pytest.raises(AcpServerGone, match="session_not_found") as gone:
            conn.request("session/new", {"cwd": "/tmp", "mcpServers": []})
        assert conn.server_id in str(gone.value)
        with pytest.raises(AcpServerGone):
            list(stream)
        assert not conn.is_known()

        again = AcpConnection.open(client, "mock")
        assert again.server_id != conn.server_id
        assert again.request("session/new", {"cwd": "/tmp", "mcpServers": []})["echoed"]
        assert [e.index for e in collect(again.events(), 2)] == [1, 2]


def test_problem_json_errors_map_to_exceptions(agent_server: AgentServer) -> None:
    """sandbox-agent's problem+json answers become named exceptions."""
    with SandboxAgentClient(agent_server.url) as client:
        with pytest.raises(AgentServerError, match="invalid_request.*agent"):
            client.acp_post("no-agent-given", {"jsonrpc": "2.0", "id": 1,
                                               "method": "initialize", "params": {}})
        # claude is not installed and its download is out of reach here.
        with pytest.raises(AgentNotInstalled, match="claude"):
            AcpConnection.open(client, "claude", timeout=60)
    with SandboxAgentClient("http://127.0.0.1:9") as nobody:
        with pytest.raises(AgentServerUnreachable, match="127.0.0.1:9"):
            nobody.agents()
