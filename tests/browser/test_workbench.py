"""The workbench in a real browser, against the real stack: sign-in through
the GitHub emulator, the first sync, real workers, a local sandbox with the
real sandbox-agent and the demo agent, the stream consumer as a process,
and the page's one websocket.

Sign in → the organization synced → the sidebar lists the PR tasks → open
one (its actor appears only now) → send a message → the reply streams in
→ allow the permission request → stop a long turn; a second browser sees
the same transcript live; a member of another organization gets a 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from foundry.actors.models import ActorInstance
from github_data.emulator import DEMO_ORGS
from orgs.models import TaskSummary
from tasks.session_models import Session, SessionEvent
from tests.browser.conftest import Shots
from tests.conftest import wait_until
from tests.sandboxes.conftest import (  # noqa: F401  (fixtures used here)
    app_key_pem,
    github_stack,
    make_emulator,
    sandbox_stack,
)
from tests.sessions.conftest import ConsumerProcess
from tests.users.conftest import asgi_server  # noqa: F401  (a fixture)

ALL_QUEUES = ("actors.user,actors.organization,actors.github_data,actors.sandbox,"
              "actors.task,maintenance")
TURN_TIMEOUT_MS = 90_000



@pytest.fixture
def acme(sandbox_stack: Any, asgi_server: str, settings: Any,  # noqa: F811
         tmp_path: Path) -> Iterator[str]:
    """The demo organizations on the emulator (acme's two repositories with
    two open pull requests each), Foundry served at the returned URL with
    every worker and the stream consumer running."""
    stack = sandbox_stack(**DEMO_ORGS, repos=2, branches_per_repo=3, prs_per_repo=2)
    gh = stack.emulator
    settings.GITHUB_OAUTH_CLIENT_ID = gh.oauth_client_id
    settings.GITHUB_OAUTH_CLIENT_SECRET = gh.oauth_client_secret
    settings.GITHUB_OAUTH_URL = gh.base_url
    gh.webhooks.configure(url=f"{asgi_server}/github/webhook")
    stack.start_workers(count=2, queues=ALL_QUEUES)
    consumer = ConsumerProcess(stack.stack.workers.env, tmp_path).start()
    try:
        yield asgi_server
    finally:
        consumer.stop()


def sign_in(page: Page, base: str, login: str) -> None:
    """The whole round trip in the browser: Foundry's button, the
    emulator's authorize page (pick the user, approve), back to Foundry."""
    page.goto(f"{base}/signin/")
    page.get_by_role("button", name="Sign in with GitHub").click()
    page.locator(f"input[name=login][value={login}]").check()
    page.locator("button[value=approve]").click()
    page.wait_for_url(lambda url: url.startswith(base) and "/signin/" not in url)


def task_actor_exists(task_id: str) -> bool:
    return ActorInstance.objects.filter(actor_type="task", key__endswith=task_id).exists()


@pytest.mark.django_db(transaction=True)
def test_the_workbench_end_to_end(acme: str, browser: Browser, page: Page,
                                  shots: Shots) -> None:
    """From sign-in to a streamed, allowed and stopped turn, seen live by a
    second browser; another organization's member gets a 404."""
    sign_in(page, acme, "alice")
    page.goto(f"{acme}/o/acme/")
    # The first sync runs after the sign-in: the sidebar fills in live.
    pr_rows = page.locator(".task-row:has(.pr)")
    expect(pr_rows.first).to_be_visible(timeout=60_000)
    wait_until(lambda: TaskSummary.objects.filter(org="acme", pr_number__isnull=False).count()
               == 4, timeout=60, what="acme's four pull requests in the task index")
    expect(pr_rows).to_have_count(4, timeout=30_000)
    shots(page, "sidebar-with-pr-tasks")

    summary = TaskSummary.objects.filter(org="acme", pr_number__isnull=False).order_by(
        "repo_name", "pr_number").first()
    assert summary is not None
    task_id = summary.task_id
    assert not task_actor_exists(task_id), "a synced task has no actor before it is opened"
    row = page.locator(f"#row-{task_id}")
    expect(row.locator(".pr")).to_have_text(f"#{summary.pr_number}")

    row.locator("a").click()
    page.wait_for_url(f"**/o/acme/t/{task_id}/**")
    assert task_actor_exists(task_id), "opening the task materializes it"
    expect(page.locator("#task-title")).to_have_value(summary.title)
    expect(page.locator("#right-panel")).to_be_attached()
    shots(page, "task-opened-provisioning")
    # The first session is created with the page; its sandbox comes live.
    expect(page.locator("#task-status")).to_have_text("Idle", timeout=TURN_TIMEOUT_MS)
    expect(page.locator("#agent-picker")).not_to_contain_text("agent starting")
    shots(page, "session-ready")

    # A second browser (another person of acme) watches the same session.
    watcher_context = browser.new_context(viewport={"width": 1280, "height": 800})
    watcher = watcher_context.new_page()
    watcher.set_default_timeout(15_000)
    sign_in(watcher, acme, "bob")
    watcher.goto(page.url)
    expect(watcher.locator("#composer")).to_be_visible()

    composer = page.locator("#composer-text")
    composer.fill("Please improve the README")
    composer.press("Enter")
    expect(page.locator(".item-user_message").last).to_contain_text("Please improve the README")
    reply = page.locator(".item-agent_message").first
    expect(reply).to_be_visible(timeout=TURN_TIMEOUT_MS)
    first_text = reply.locator(".bubble").inner_text()
    shots(page, "reply-streaming")
    permission = page.locator(".permission-pending")
    expect(permission).to_be_visible(timeout=TURN_TIMEOUT_MS)
    # The streamed reply grew in place: the same item, its text extended.
    assert reply.locator(".bubble").inner_text().startswith(first_text.rstrip(". "))
    expect(page.locator(".item-tool_call").first).to_be_visible()
    expect(page.locator(".item-plan").first).to_be_visible()
    shots(page, "permission-requested")
    expect(watcher.locator(".permission-pending")).to_be_visible(timeout=TURN_TIMEOUT_MS)
    shots(watcher, "second-browser-sees-the-request")

    permission.get_by_role("button", name="Allow").first.click()
    expect(page.locator(".permission-answered")).to_be_visible(timeout=30_000)
    expect(page.locator(".turn-end").last).to_contain_text("took", timeout=TURN_TIMEOUT_MS)
    expect(page.locator("#task-status")).to_have_text("Idle", timeout=30_000)
    shots(page, "turn-finished")
    # The second browser got the whole transcript live, in the same order.
    expect(watcher.locator(".turn-end").last).to_contain_text("took", timeout=30_000)
    session = Session.objects.get(task__org="acme", task__task_id=task_id)
    assert page.locator("#transcript-items").inner_text() == \
        watcher.locator("#transcript-items").inner_text()
    shots(watcher, "second-browser-same-transcript")
    assert SessionEvent.objects.filter(session=session, kind="permission_answered").exists()

    # A long turn, stopped while the agent works.
    composer.fill("take it /slow")
    composer.press("Enter")
    stop = page.locator("#stop-button")
    expect(stop).to_be_visible(timeout=30_000)
    expect(page.locator("#working")).to_contain_text("agent is working")
    expect(page.locator(".item-agent_message").last).to_contain_text("Thinking slowly",
                                                                     timeout=30_000)
    shots(page, "long-turn-working")
    stop.click()
    expect(page.locator(".turn-end").last).to_contain_text("Stopped", timeout=15_000)
    expect(stop).to_be_hidden(timeout=15_000)
    shots(page, "long-turn-stopped")
    watcher_context.close()

    # carol is a member of initech only: acme's task is not there for her.
    stranger_context = browser.new_context(viewport={"width": 1280, "height": 800})
    stranger = stranger_context.new_page()
    sign_in(stranger, acme, "carol")
    answer = stranger.goto(f"{acme}/o/acme/t/{task_id}/")
    assert answer is not None and answer.status == 404
    expect(stranger.locator("body")).to_contain_text("There is nothing here")
    shots(stranger, "another-organization-404")
    stranger_context.close()
