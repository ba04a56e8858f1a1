"""Foundry served over real HTTP and websockets (uvicorn in a thread, the
ASGI app) beside a GitHub emulator with the demo organizations, and real
Celery workers for the actors a sign-in touches. A "browser" is an httpx
client with its own cookies that walks the OAuth round trip step by step.

The demo (``DEMO_ORGS``): acme and initech with the App, globex without
it; alice (acme admin), bob (acme, initech admin), carol (initech), dave
(none), erin (globex), frank (none; the App on his own account).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from channels.layers import channel_layers
from django.contrib.auth import get_user_model
from django.db import connections

from foundry.actors.models import OPEN_STATUSES, Command, CommandStatus
from github_data.emulator import DEMO_ORGS, GitHubEmulator
from orgs.reads import OrganizationCard, app_snapshot
from tests.conftest import wait_until
from tests.github_data import conftest as github_fixtures
from tests.github_data.conftest import GitHubStack

# The emulator and worker fixtures of the GitHub tests, shared here.
app_key_pem = github_fixtures.app_key_pem
make_emulator = github_fixtures.make_emulator
github_stack = github_fixtures.github_stack

SIGNIN_QUEUES = "actors.user,actors.organization,actors.github_data,maintenance"


@pytest.fixture
def asgi_server(transactional_db: None) -> Iterator[str]:
    """Foundry's ASGI app (HTTP and websockets) on an ephemeral port."""
    # Requests run on the server's threads, each with its own connection:
    # closed after each request, or the test database could not be dropped.
    db = connections.settings["default"]
    max_age = db["CONN_MAX_AGE"]
    db["CONN_MAX_AGE"] = 0
    # A fresh channel layer per server: channels_redis lets one event loop
    # receive per layer object, and an earlier test's server loop may have
    # ended with a receiver inside.
    channel_layers.backends.clear()
    config = uvicorn.Config(
        "foundry.asgi:application", host="127.0.0.1", port=0, log_level="warning",
        lifespan="off", ws="websockets-sansio",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="foundry-asgi", daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=20, what="uvicorn to start")
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    db["CONN_MAX_AGE"] = max_age


def settle(timeout: float = 90) -> None:
    """Every command sent so far, and those they sent, finished; none failed."""
    wait_until(
        lambda: not Command.objects.filter(status__in=OPEN_STATUSES).exists(),
        timeout=timeout, what="all commands to finish",
    )
    failed = list(
        Command.objects.filter(status=CommandStatus.FAILED)
        .values_list("name", "error_type", "error_message")
    )
    assert not failed, failed


@dataclass
class Site:
    url: str
    stack: GitHubStack

    @property
    def github(self) -> GitHubEmulator:
        return self.stack.emulator

    def browser(self) -> httpx.Client:
        """A browser of Foundry: cookies kept, redirects looked at one by one."""
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=60)

    def begin(self, browser: httpx.Client) -> str:
        """Click "Sign in with GitHub"; returns GitHub's authorize URL."""
        page = browser.get("/signin/")
        assert page.status_code == 200, page.text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, page.text
        begun = browser.post("/login/github/", data={
            "csrfmiddlewaretoken": token.group(1), "next": "/",
        })
        assert begun.status_code == 302, begun.text
        return begun.headers["Location"]

    def authorize(self, authorize_url: str, login: str | None) -> httpx.Response:
        """GitHub's side: the person (a ``login=`` hint, as the page's choice
        would be) approves; or with the emulator set to deny, refuses."""
        url = f"{authorize_url}&login={login}" if login else authorize_url
        return httpx.get(url, timeout=30)

    def callback_url(self, github_answer: httpx.Response) -> str:
        assert github_answer.status_code == 302, github_answer.text
        location = github_answer.headers["Location"]
        assert location.startswith(self.url), location
        parts = urlsplit(location)
        return f"{parts.path}?{parts.query}"

    def sign_in(self, login: str, browser: httpx.Client | None = None) -> httpx.Client:
        """The whole round trip; returns the signed-in browser."""
        browser = browser or self.browser()
        answer = self.authorize(self.begin(browser), login)
        done = browser.get(self.callback_url(answer))
        assert done.status_code == 302 and done.headers["Location"] == "/", (
            done.status_code, done.headers.get("Location"), messages_of(browser),
        )
        return browser

    def control(self, path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(f"{self.github.base_url}/_emulator/{path}", json=body, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()


def messages_of(browser: httpx.Client) -> str:
    """The sign-in page's message to the person (the text of its list)."""
    page = browser.get("/signin/")
    found = re.search(r'<ul class="messages">(.*?)</ul>', page.text, re.S)
    return re.sub(r"<[^>]+>|\s+", " ", found.group(1)).strip() if found else ""


@pytest.fixture
def make_site(
    github_stack: Callable[..., GitHubStack], asgi_server: str, settings: Any
) -> Callable[..., Site]:
    def make(*, workers: bool = True, webhooks: bool = True, **config: Any) -> Site:
        stack = github_stack(**{**DEMO_ORGS, "repos": 2, **config})
        gh = stack.emulator
        settings.GITHUB_OAUTH_CLIENT_ID = gh.oauth_client_id
        settings.GITHUB_OAUTH_CLIENT_SECRET = gh.oauth_client_secret
        settings.GITHUB_OAUTH_URL = gh.base_url
        settings.FOUNDRY_ADMIN_LOGINS = ["alice"]
        if webhooks:
            gh.webhooks.configure(url=f"{asgi_server}/github/webhook")
        if workers:
            stack.start_workers(queues=SIGNIN_QUEUES)
        return Site(url=asgi_server, stack=stack)

    return make


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    return make_site()


def cards(login: str) -> dict[str, OrganizationCard]:
    """The person's app snapshot (the read the pages start from), by org."""
    person = get_user_model().objects.get(username=login)
    return {card.org_id: card for card in app_snapshot(person).organizations}


def until(predicate: Callable[[], object], what: str, timeout: float = 60) -> None:
    wait_until(predicate, timeout=timeout, what=what)


__all__ = ["Site", "cards", "messages_of", "settle", "until", "time"]
