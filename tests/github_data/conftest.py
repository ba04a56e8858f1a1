"""Fixtures for the GitHub emulator: running emulators and a webhook receiver (real HTTP)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from github_data.client import GitHubClient
from github_data.emulator import EmulatorConfig, GitHubEmulator
from github_data.emulator.generate import generate_keypair


@pytest.fixture(scope="session")
def app_key_pem() -> str:
    """One RSA key for the whole session: generating one per emulator costs ~0.1-0.5 s."""
    return generate_keypair()[0]


@pytest.fixture
def make_emulator(app_key_pem: str) -> Iterator[Callable[..., GitHubEmulator]]:
    started: list[GitHubEmulator] = []

    def make(**overrides: Any) -> GitHubEmulator:
        overrides.setdefault("private_key_pem", app_key_pem)
        emulator = GitHubEmulator(EmulatorConfig(**overrides)).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(make_emulator: Callable[..., GitHubEmulator]) -> GitHubEmulator:
    """The default demo: acme, 6 repos × 4 branches, 2 open PRs each, 5 members."""
    return make_emulator()


@pytest.fixture
def api(emulator: GitHubEmulator) -> Iterator[httpx.Client]:
    """An httpx client on the emulator, authenticated with an installation token."""
    headers = {
        "Authorization": f"token {emulator.installation_token()}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    with httpx.Client(base_url=emulator.base_url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
def make_client() -> Iterator[Callable[..., GitHubClient]]:
    """A client on an emulator, with its credentials; closed after the test."""
    made: list[GitHubClient] = []

    def make(gh: GitHubEmulator, **overrides: Any) -> GitHubClient:
        kwargs: dict[str, Any] = {
            "installation_id": gh.installation_id,
            "app_id": str(gh.app_id),
            "private_key_pem": gh.app_private_key_pem,
            "base_url": gh.base_url,
            "retry_backoff": 0.05,  # keep 5xx tests quick; the waits GitHub asks for are real
        }
        kwargs.update(overrides)
        client = GitHubClient(**kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """A stdlib HTTP server standing in for Foundry's webhook endpoint."""

    url: str = ""
    status: int = 202
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, item: Received) -> None:
        with self._lock:
            self.received.append(item)

    def events(self) -> list[tuple[str, str | None]]:
        with self._lock:
            return [
                (r.headers["X-GitHub-Event"], json.loads(r.body).get("action"))
                for r in self.received
            ]


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.record(Received(self.path, dict(self.headers.items()), body))
            self.send_response(receiver.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return  # keep test output quiet; the assertions look at `received`

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/github"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# --- Foundry against the emulator: settings and real worker processes -------

GITHUB_QUEUES = "actors.organization,actors.github_data,maintenance"


@dataclass
class GitHubStack:
    """An emulator, Foundry's settings pointing at it (in this process and in
    worker processes), and a way to start workers for the GitHub actors."""

    emulator: GitHubEmulator
    workers: Any

    def start_workers(self, count: int = 1, **options: Any) -> list[Any]:
        options.setdefault("queues", GITHUB_QUEUES)
        return self.workers.start(count=count, **options)


@pytest.fixture
def github_stack(
    make_emulator: Callable[..., GitHubEmulator], workers: Any, settings: Any, tmp_path: Any
) -> Callable[..., GitHubStack]:
    """``github_stack(repos=..., ...)`` starts an emulator with that dataset and
    points Foundry at it; call ``.start_workers()`` when the test is ready."""

    def make(**config: Any) -> GitHubStack:
        emulator = make_emulator(**config)
        key_path = emulator.write_private_key(tmp_path / "github-app.pem")
        values = {
            "GITHUB_API_URL": emulator.base_url,
            "GITHUB_APP_ID": str(emulator.app_id),
            "GITHUB_APP_PRIVATE_KEY_PATH": str(key_path),
            "GITHUB_WEBHOOK_SECRET": emulator.webhook_secret,
        }
        for name, value in values.items():
            setattr(settings, name, value)
        settings.GITHUB_APP_PRIVATE_KEY = None
        workers.env.update(values)
        return GitHubStack(emulator=emulator, workers=workers)

    return make
