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

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from foundry.actors.models import OPEN_STATUSES, ActorInstance, Command
from github_data.emulator import DEMO_ORGS
from github_data.models import GitHubRepository
from orgs.actor import organization
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
from workbench import sidebar

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
    # The sidebar's row shows the task running (the organization's summary).
    expect(page.locator(f"#row-{task_id} .status-dot")).to_have_class(
        re.compile(r"\bstatus-running\b"))
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


@pytest.mark.django_db(transaction=True)
def test_sidebar_search_filters_paging_and_a_new_task(acme: str, browser: Browser, page: Page,
                                                       shots: Shots) -> None:
    """The sidebar pages on scroll, searches by title, branch and PR
    number, filters; ⌘/Ctrl+K focuses the search; "New task" creates a task
    through the tasks app and opens it; a narrow window collapses the
    sidebar."""
    sign_in(page, acme, "alice")
    page.goto(f"{acme}/o/acme/")
    expect(page.locator(".task-row:has(.pr)")).to_have_count(4, timeout=60_000)
    wait_until(lambda: not Command.objects.filter(status__in=OPEN_STATUSES).exists(),
               timeout=60, what="the first sync to finish")

    # Sixty more tasks in repo-001, registered by the organization's actor.
    repo = GitHubRepository.objects.get(full_name="acme/repo-001")
    handle = organization.get(org="acme")
    for n in range(60):
        handle.send("organization.command.register_task", {
            "task_id": f"bulk-{n:03d}", "repo_id": repo.github_id, "repo_name": repo.name,
            "repo_full_name": repo.full_name, "branch": f"bulk-branch-{n:03d}",
            "title": f"Bulk task {n:03d}",
        })
    wait_until(lambda: TaskSummary.objects.filter(org="acme", task_id__startswith="bulk-")
               .count() == 60, timeout=60, what="sixty registered tasks")
    page.reload()
    rows = page.locator(f"#repo-rows-{repo.github_id} .task-row")
    expect(rows).to_have_count(sidebar.ROWS_PER_PAGE)  # the first page only
    shots(page, "sidebar-first-page")
    for _ in range(4):  # each "Loading more…" row loads the next page as it shows
        more = page.locator(f"#repo-rows-{repo.github_id} .more")
        if not more.count():
            break
        more.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
    expect(rows).to_have_count(62)
    shots(page, "sidebar-all-pages")

    page.locator("#workbench-home").click()
    page.keyboard.press("Control+k")
    expect(page.locator("#search")).to_be_focused()
    page.keyboard.type("#2")
    results = page.locator("#search-rows .task-row")
    expect(results).to_have_count(2)
    expect(results.locator(".pr")).to_have_text(["#2", "#2"])
    page.fill("#search", "bulk-branch-05")  # a branch: tasks 050 to 059
    expect(results).to_have_count(10)
    page.fill("#search", "Bulk task 007")
    expect(results).to_have_count(1)
    shots(page, "search-by-title")
    page.fill("#search", "")
    page.check("input[name=prs]")
    expect(results).to_have_count(4)
    page.check("input[name=mine]")
    expect(page.locator("#sidebar-results")).to_contain_text("No task matches")
    shots(page, "filters-mine-and-open-prs")
    page.uncheck("input[name=mine]")
    page.uncheck("input[name=prs]")
    expect(page.locator(f"#repo-rows-{repo.github_id}")).to_be_visible()

    # A new task from a prompt, in repo-002 picked through the search.
    page.click("#new-task-button")
    expect(page.locator("#new-task-form")).to_be_visible()
    page.fill("#repo-filter", "002")
    expect(page.locator("#repo-picker")).to_have_value("acme/repo-002")
    page.fill("textarea[name=prompt]", "Add a CHANGELOG\n\nWith the last release's notes.")
    shots(page, "new-task-form")
    page.get_by_role("button", name="Create task").click()
    page.wait_for_url("**/o/acme/t/**")
    expect(page.locator("#task-title")).to_have_value("Add a CHANGELOG")
    expect(page.locator(".item-user_message").first).to_contain_text(
        "Add a CHANGELOG", timeout=TURN_TIMEOUT_MS)
    expect(page.locator(".permission-pending")).to_be_visible(timeout=TURN_TIMEOUT_MS)
    task_id = page.url.rstrip("/").split("/t/")[1].split("/")[0]
    new_row = page.locator(f"#row-{task_id}")
    expect(new_row).to_contain_text("Add a CHANGELOG")
    expect(new_row.locator(".owner")).to_have_text("alice")
    shots(page, "new-task-working")

    # A narrow window: the sidebar collapses behind its toggle.
    page.set_viewport_size({"width": 700, "height": 800})
    expect(page.locator("#sidebar")).to_be_hidden()
    shots(page, "narrow-sidebar-collapsed")
    page.click("#sidebar-toggle")
    expect(page.locator("#sidebar")).to_be_visible()
    shots(page, "narrow-sidebar-open")
