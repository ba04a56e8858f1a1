"""The E2B provider against a fake of the SDK's Sandbox class (no network
here), through the sandbox actor in real worker processes: creation
options, keep-alive, an expired sandbox recorded and provisioned again,
pause and resume, listing the processes of an expired sandbox."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from sandboxes.actor import sandbox
from sandboxes.models import Sandbox, SandboxEvent
from sandboxes.providers import SandboxSpec
from sandboxes.providers.e2b import E2BProvider
from tests.sandboxes import fake_e2b
from tests.sandboxes.fake_e2b import FakeSandbox


@pytest.fixture
def fake_e2b_dir(tmp_path: Path, monkeypatch: Any, settings: Any) -> Path:
    directory = tmp_path / "fake-e2b"
    directory.mkdir()
    monkeypatch.setenv("FAKE_E2B_DIR", str(directory))
    settings.E2B_API_KEY = "e2b_test_key"
    settings.FOUNDRY_E2B_SDK = "tests.sandboxes.fake_e2b.FakeSandbox"
    yield directory
    for state in fake_e2b.all_states():
        if state["state"] not in ("killed", "expired"):
            FakeSandbox.kill(state["id"])


SPEC = SandboxSpec(org="acme", sandbox_id="task-1", generation=1,
                   clone_url="https://github.example/acme/repo-001.git", branch="main")


def test_create_options_home_clone_and_server(fake_e2b_dir: Path) -> None:
    """Created with the template, a 1-hour timeout and an idempotency key
    (created again: the same sandbox); the repository at $HOME/repo; the
    token in the clone's environment only; sandbox-agent started in the
    background without a command timeout, with a token of its own."""
    provider = E2BProvider(FakeSandbox)
    place = provider.create(SPEC)
    assert provider.create(SPEC).provider_sandbox_id == place.provider_sandbox_id
    [state] = fake_e2b.all_states()
    assert (state["template"], state["timeout"]) == ("base", 3600)
    assert state["metadata"] == {"foundry_org": "acme", "foundry_sandbox": "task-1",
                                 "foundry_generation": "1"}
    assert place.home_path == "/home/user" and place.repo_path == "/home/user/repo"

    provider.clone(SPEC, place, token="ghs_secret123")
    place = provider.start_agent_server(SPEC, place)
    commands = fake_e2b.load(place.provider_sandbox_id)["commands"]
    clone = next(c for c in commands if "git clone" in c["cmd"])
    assert "ghs_secret123" not in clone["cmd"]
    header = clone["envs"]["GIT_CONFIG_VALUE_0"]
    assert base64.b64decode(header.split()[-1]) == b"x-access-token:ghs_secret123"
    assert clone["envs"]["GIT_CONFIG_KEY_0"] == "http.https://github.example/.extraHeader"
    [server] = [c for c in commands if c["background"]]
    assert server["timeout"] == 0 and "--port 2468" in server["cmd"]
    assert place.agent_token not in server["cmd"]
    assert place.agent_url.startswith("http://127.0.0.1:")


def test_e2b_sandbox_lifecycle_through_the_actor(
    fake_e2b_dir: Path, workers: Any, settings: Any
) -> None:
    """provision → keep-alive (the timeout set to an hour again) → pause and
    resume → the sandbox expires: listing its processes is an answer, not
    a crash; check records it; ensure provisions generation 2."""
    settings.FOUNDRY_SANDBOX_PROVIDER = "e2b"
    workers.env.update(FAKE_E2B_DIR=str(fake_e2b_dir), E2B_API_KEY="e2b_test_key",
                       FOUNDRY_E2B_SDK="tests.sandboxes.fake_e2b.FakeSandbox",
                       FOUNDRY_SANDBOX_PROVIDER="e2b")
    workers.start(queues="actors.sandbox,maintenance")
    handle = sandbox.get_or_create(org="acme", sandbox="task-1")
    repository = {"repo": "acme/repo-001", "branch": "main",
                  "clone_url": "https://github.example/acme/repo-001.git"}
    out = handle.send("sandbox.command.provision", repository, wait=True, timeout=60)
    assert (out["provider"], out["status"], out["repo_path"]) == ("e2b", "ready", "/home/user/repo")
    first = out["provider_sandbox_id"]
    assert handle.read("sandbox.read.processes").available

    handle.send("sandbox.command.keep_alive", wait=True, timeout=30)
    assert fake_e2b.load(first)["timeouts"] == [3600]
    assert Sandbox.objects.get().last_keepalive_at is not None

    paused = handle.send("sandbox.command.pause", wait=True, timeout=30)
    assert paused["status"] == "paused" and fake_e2b.load(first)["state"] == "paused"
    assert not handle.read("sandbox.read.processes").available
    resumed = handle.send("sandbox.command.resume", wait=True, timeout=30)
    assert resumed["status"] == "ready" and not resumed["reprovisioned"]
    assert fake_e2b.load(first)["state"] == "running"
    assert handle.read("sandbox.read.processes").available

    fake_e2b.expire(first)
    listing = handle.read("sandbox.read.processes")
    assert not listing.available and listing.processes == []
    checked = handle.send("sandbox.command.check", wait=True, timeout=30)
    assert checked["status"] == "destroyed" and "not found" in checked["detail"]
    kept = handle.send("sandbox.command.keep_alive", wait=True, timeout=30)
    assert kept["status"] == "destroyed"  # nothing to keep alive; no error
    assert handle.read("sandbox.read.processes").status == "destroyed"

    again = handle.send("sandbox.command.ensure", {}, wait=True, timeout=60)
    assert again["status"] == "ready" and again["reprovisioned"]
    assert again["generation"] == 2 and again["provider_sandbox_id"] != first
    assert [(e.generation, e.status) for e in SandboxEvent.objects.order_by("id")] == [
        (1, "provisioning"), (1, "ready"), (1, "paused"), (1, "ready"), (1, "destroyed"),
        (2, "provisioning"), (2, "ready"),
    ]
