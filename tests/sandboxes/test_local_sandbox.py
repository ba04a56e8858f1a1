"""Local sandboxes end to end: provisioned by the sandbox actor in real
worker processes, cloned from the emulator (its git needs a token), the
real sandbox-agent with the demo agent (PostgreSQL and SQLite)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from foundry.actors.models import Step
from sandboxes.acp_client import AcpConnection, AcpEvent
from sandboxes.actor import sandbox
from sandboxes.agent_errors import AcpRequestFailed
from sandboxes.models import Sandbox, SandboxEvent
from sandboxes.process_client import ProcessClient
from tests.conftest import wait_until
from tests.sandboxes.conftest import SandboxStack

pytestmark = pytest.mark.workers


def provision(stack: SandboxStack, name: str = "task-1", **repo: Any) -> dict[str, Any]:
    handle = sandbox.get_or_create(org=stack.emulator.org, sandbox=name)
    out = handle.send("sandbox.command.provision", stack.repository(**repo), wait=True,
                      timeout=90)
    return dict(out)


def run_turn(conn: AcpConnection, session_id: str, text: str, *, answer: str | None = "allow",
             cancel_after: int | None = None) -> tuple[list[AcpEvent], Any]:
    """Prompt, read the stream to the end of the turn (answering the
    permission request with ``answer``); the events and the outcome."""
    outcome: dict[str, Any] = {}

    def post() -> None:
        try:
            outcome["result"] = conn.prompt(session_id, text)
        except Exception as exc:
            outcome["error"] = exc

    stream = conn.events(after=conn_last.get(conn.server_id, 0))
    poster = threading.Thread(target=post)
    poster.start()
    events: list[AcpEvent] = []
    for event in stream:
        events.append(event)
        if event.permission_request() is not None and answer is not None:
            conn.answer_permission(event.envelope["id"], answer)
        if cancel_after is not None and len(events) == cancel_after:
            conn.cancel(session_id)
        if event.kind == "response" and (
            "error" in event.envelope or "stopReason" in (event.envelope.get("result") or {})
        ):
            break
    conn_last[conn.server_id] = stream.last_event_id
    poster.join(timeout=30)
    return events, outcome.get("result", outcome.get("error"))


conn_last: dict[str, int] = {}


def updates(events: list[AcpEvent]) -> list[Any]:
    return [u.update for e in events if (u := e.session_update()) is not None]


def chunks(events: list[AcpEvent]) -> list[str]:
    return [u.content.text for u in updates(events) if u.session_update == "agent_message_chunk"]


def git_status(client: Any, repo: str) -> str:
    return ProcessClient(client).run("git", ["status", "--porcelain"], cwd=repo).stdout


def test_demo_agent_in_a_local_sandbox_cloned_from_the_emulator(
    sandbox_stack: Any,
) -> None:
    """Provisioned from a repository whose git needs a token (the token is in
    no URL and no config); the agents list comes from the sandbox; the demo
    agent streams its chunks in order, shows a read tool call with its
    result, asks before it writes, and the allowed edit shows in git status."""
    stack = sandbox_stack()
    stack.start_workers()
    out = provision(stack, branch="main")
    assert out["status"] == "ready" and out["generation"] == 1
    repo = Path(out["repo_path"])
    assert repo == stack.sandbox_dir / f"{stack.emulator.org}--task-1--g1" / "home" / "repo"
    origin = subprocess.run(["git", "-C", str(repo), "remote", "get-url", "origin"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert origin == stack.emulator.git_url("repo-001")
    assert "x-access-token" not in (repo / ".git" / "config").read_text()
    assert [e.status for e in SandboxEvent.objects.order_by("id")] == ["provisioning", "ready"]

    handle = sandbox.get(org=stack.emulator.org, sandbox="task-1")
    agents = {a.id: a for a in handle.read("sandbox.read.agents")}
    assert agents["mock"].label == "Demo agent" and agents["mock"].installed
    assert agents["claude"].label == "Claude Code"
    with handle.read("sandbox.read.agent_client") as client:
        conn = AcpConnection.open(client, "mock")
        assert conn.initialize_response().agent_info.title == "Demo agent"
        session_id = conn.new_session(str(repo))
        assert git_status(client, str(repo)) == ""
        events, result = run_turn(conn, session_id, "Please improve the README")

        assert result.stop_reason == "end_turn"
        assert result.usage.total_tokens > 0
        texts = chunks(events)
        assert texts[0] == "Hello! I am Foundry's demo agent. "
        assert texts[-1] == " I added a line to README.md; git status shows it."
        assert len(texts) >= 5
        kinds = [u.session_update for u in updates(events)]
        assert kinds[0] == "plan" and "tool_call" in kinds and kinds[-1] == "usage_update"
        read_done = [u for u in updates(events)
                     if u.session_update == "tool_call_update" and u.status == "completed"]
        assert "README.md" in read_done[0].content[0].content.text
        assert [e.method for e in events if e.kind == "request"] == [
            "session/request_permission"
        ]
        assert git_status(client, str(repo)) == " M README.md\n"
        usage = [u for u in updates(events) if u.session_update == "usage_update"][0]
        assert usage.cost.amount == 0


def test_demo_agent_denied_cancelled_and_failing(sandbox_stack: Any) -> None:
    """Denied: it says so and the repository is unchanged. ``/slow`` then
    cancel: the turn ends at once with ``cancelled``. ``/fail``: a JSON-RPC
    error, and the session still works after it."""
    stack = sandbox_stack()
    stack.start_workers()
    out = provision(stack)
    handle = sandbox.get(org=stack.emulator.org, sandbox="task-1")
    with handle.read("sandbox.read.agent_client") as client:
        conn = AcpConnection.open(client, "mock")
        session_id = conn.new_session(out["repo_path"])

        events, result = run_turn(conn, session_id, "change something", answer="deny")
        assert result.stop_reason == "end_turn"
        assert chunks(events)[-1] == (
            " You denied the change, so I left the repository as it was."
        )
        assert git_status(client, out["repo_path"]) == ""

        started = time.monotonic()
        events, result = run_turn(conn, session_id, "take it /slow", cancel_after=12)
        assert result.stop_reason == "cancelled"
        assert time.monotonic() - started < 5  # /slow alone takes 15 s
        assert not any(e.kind == "request" for e in events)

        events, result = run_turn(conn, session_id, "now /fail")
        assert isinstance(result, AcpRequestFailed) and "/fail" in str(result)
        assert "error" in events[-1].envelope

        events, result = run_turn(conn, session_id, "again", answer="allow")
        assert result.stop_reason == "end_turn"


def test_two_first_uses_at_once_give_one_sandbox(sandbox_stack: Any) -> None:
    """Two ensure commands for a sandbox nobody provisioned, sent at once
    with two workers: one sandbox, one agent server, one provisioning."""
    stack = sandbox_stack()
    stack.start_workers(count=2)
    results: list[dict[str, Any]] = []

    def first_use() -> None:
        handle = sandbox.get_or_create(org=stack.emulator.org, sandbox="task-1")
        results.append(handle.send("sandbox.command.ensure",
                                   {"repository": stack.repository()}, wait=True, timeout=90))

    threads = [threading.Thread(target=first_use) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2
    assert {(r["status"], r["generation"], r["provider_sandbox_id"]) for r in results} == {
        ("ready", 1, f"{stack.emulator.org}--task-1--g1")
    }
    assert sorted(r["reprovisioned"] for r in results) == [False, False]
    assert Sandbox.objects.count() == 1
    assert [e.status for e in SandboxEvent.objects.order_by("id")] == ["provisioning", "ready"]
    servers = stack.servers()
    assert [p.pid for p in servers] == [Sandbox.objects.get().server_pid]


def test_worker_killed_during_provisioning_leaves_one_sandbox_and_no_orphan(
    sandbox_stack: Any,
) -> None:
    """The worker is SIGKILLed after it started the agent server and before
    the step recorded it; the next worker runs that step again, stops the
    unrecorded server and starts one: one sandbox, one server, recorded."""
    stack = sandbox_stack()
    [victim] = stack.start_workers(
        env={"FOUNDRY_SANDBOX_FAULT_PAUSE_AFTER_START_SECONDS": "120"}, beat=True
    )
    handle = sandbox.get_or_create(org=stack.emulator.org, sandbox="task-1")
    ref = handle.send("sandbox.command.provision", stack.repository())
    wait_until(lambda: stack.servers(), timeout=60, what="the first agent server")
    [first] = stack.servers()
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    assert first.is_running()  # it outlives the worker, as a sandbox must

    stack.start_workers()
    out = ref.wait(timeout=90)
    assert out["status"] == "ready"
    wait_until(lambda: not first.is_running() or first.status() == psutil.STATUS_ZOMBIE,
               timeout=10, what="the unrecorded server to stop")
    servers = stack.servers()
    assert [p.pid for p in servers] == [Sandbox.objects.get().server_pid]
    assert servers[0].pid != first.pid
    steps = {s.name: s.attempt for s in Step.objects.filter(command_id=ref.id)}
    assert steps["clone"] == 1 and steps["start agent server"] == 2
    assert Sandbox.objects.count() == 1 and Sandbox.objects.get().generation == 1


def test_a_dead_server_is_restarted_and_a_deleted_sandbox_reprovisioned(
    sandbox_stack: Any,
) -> None:
    """ensure after the agent server died: started again (server_epoch says
    its sessions are gone). After the sandbox's directory vanished: the
    provider says destroyed, it is recorded, and ensure provisions
    generation 2; the history keeps all of it."""
    stack = sandbox_stack()
    stack.start_workers()
    out = provision(stack)
    row = Sandbox.objects.get()
    os.killpg(row.server_pid, signal.SIGKILL)
    handle = sandbox.get(org=stack.emulator.org, sandbox="task-1")
    listing = handle.read("sandbox.read.processes")
    assert not listing.available and "did not answer" in listing.detail

    again = handle.send("sandbox.command.ensure", {}, wait=True, timeout=60)
    assert again["status"] == "ready" and not again["reprovisioned"]
    assert again["server_epoch"] == 1 and again["generation"] == 1
    assert handle.read("sandbox.read.processes").available

    import shutil

    Sandbox.objects.get().server_pid and os.killpg(Sandbox.objects.get().server_pid,
                                                    signal.SIGKILL)
    shutil.rmtree(Path(out["repo_path"]).parent.parent)
    renewed = handle.send("sandbox.command.ensure", {}, wait=True, timeout=90)
    assert renewed["status"] == "ready" and renewed["reprovisioned"]
    assert renewed["generation"] == 2
    history = [(e.generation, e.status) for e in SandboxEvent.objects.order_by("id")]
    assert history == [
        (1, "provisioning"), (1, "ready"), (1, "ready"), (1, "destroyed"),
        (2, "provisioning"), (2, "ready"),
    ]
    assert len(stack.servers()) == 1


def test_beat_keeps_sandboxes_in_use_alive_and_stops_idle_local_ones(
    sandbox_stack: Any, settings: Any
) -> None:
    """The keep-alive job sends keep_alive to a watched sandbox and leaves
    it running; once nobody watches it and it was idle longer than the
    setting, stop_idle stops its agent server (recorded as expired) and the
    next ensure starts it again."""
    from foundry.actors.models import Command
    from sandboxes.keepalive import run_keep_alive

    stack = sandbox_stack()
    settings.FOUNDRY_SANDBOX_LOCAL_IDLE_SECONDS = 0.5
    stack.start_workers(env={"FOUNDRY_SANDBOX_LOCAL_IDLE_SECONDS": "0.5"})
    provision(stack)
    handle = sandbox.get(org=stack.emulator.org, sandbox="task-1")
    handle.send("sandbox.command.note_activity", {"watch_seconds": 60}, wait=True, timeout=30)
    time.sleep(0.6)
    assert run_keep_alive() == {"kept_alive": 1, "stopping_idle": 0}
    wait_until(lambda: Sandbox.objects.get().last_keepalive_at is not None, timeout=30,
               what="the keep-alive command")
    assert len(stack.servers()) == 1

    handle.send("sandbox.command.note_activity", {"watch_seconds": 0}, wait=True, timeout=30)
    time.sleep(0.6)
    assert run_keep_alive() == {"kept_alive": 0, "stopping_idle": 1}
    wait_until(lambda: Sandbox.objects.get().status == "expired", timeout=30,
               what="the idle sandbox to stop")
    assert stack.servers() == []
    assert Command.objects.filter(name="sandbox.command.stop_idle", status="succeeded").exists()
    again = handle.send("sandbox.command.ensure", {}, wait=True, timeout=60)
    assert again["status"] == "ready" and again["server_epoch"] == 1
    assert len(stack.servers()) == 1
