"""The task view's right panel in a real browser (Debian's Chromium, the
served ASGI app, real workers and a local sandbox cloned from the
emulator): Changes shows a file's diff, clicking a diff line attaches
``path:line`` to the composer, the terminal runs ``git status`` in the
sandbox and survives the panel's swaps around it."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from playwright.sync_api import Page, expect

from tasks import workspace
from tasks.materialize import create_task
from tasks.models import Task
from tests.browser.conftest import Shots
from tests.tasks.conftest import (  # noqa: F401  (fixtures used here)
    ORG,
    TaskStack,
    app_key_pem,
    github_stack,
    make_emulator,
    sandbox_stack,
    task_stack,
)

pytestmark = [pytest.mark.workers, pytest.mark.timeout(300)]


def sign_in_browser(page: Page, base: str, login: str) -> None:
    client = Client()
    client.force_login(get_user_model().objects.get(username=login))
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": base}])


@pytest.mark.django_db(transaction=True)
def test_panel_diff_attach_and_terminal(
    task_stack: TaskStack, web_server: str, page: Page, shots: Shots,  # noqa: F811
) -> None:
    out = create_task(ORG, task_stack.repo_full_name(), "Add a notes file", owner_login="alice")
    task_id = out["task_id"]
    workspace.ensure_sandbox(Task.objects.get(org=ORG, task_id=task_id))
    with workspace.sandbox_git(ORG, task_id) as (proc, row):
        proc.run("sh", ["-c", "printf 'first\\nsecond\\n' > notes.txt"], cwd=row.repo_path)

    sign_in_browser(page, web_server, "alice")
    page.goto(f"{web_server}/o/{ORG}/t/{task_id}/panel/page/")
    expect(page.locator("#panel-branch")).to_have_text(out["branch"])
    expect(page.locator("#panel-sandbox")).to_contain_text("ready")
    shots(page, "overview")

    # What the composer's helper would hear, and the composer itself.
    page.evaluate("""() => {
        window.attached = [];
        document.addEventListener('foundry:attach', e => window.attached.push(e.detail));
        const c = document.createElement('div'); c.id = 'composer';
        c.innerHTML = '<textarea>Look at</textarea>'; document.body.appendChild(c);
    }""")
    page.click("#panel-tab-changes")
    expect(page.locator('#changed-files [data-path="notes.txt"]')).to_contain_text("+2")
    page.click('#changed-files [data-path="notes.txt"] .file-name')
    line = page.locator('.diff-line[data-attach="notes.txt:2"]')
    expect(line).to_contain_text("+second")
    line.click()
    assert page.evaluate("window.attached") == ["notes.txt:2"]
    assert page.input_value("#composer textarea") == "Look at notes.txt:2"
    expect(line).to_have_class("diff-line diff-add attached")
    shots(page, "diff-line-attached")

    page.click("#terminal-open")
    expect(page.locator("#terminal-state")).to_have_text("connected", timeout=20_000)
    page.click("#terminal-screen")
    page.keyboard.type("git status\n")
    rows = page.locator("#terminal-screen .xterm-rows")
    expect(rows).to_contain_text("notes.txt", timeout=20_000)
    expect(rows).to_contain_text("Untracked files")
    shots(page, "terminal-git-status")

    # The panel swaps around the terminal (another tab, a button's answer):
    # the same shell stays, with what it printed.
    page.click("#panel-tab-files")
    expect(page.locator('#file-tree [data-path="notes.txt"]')).to_be_visible()
    expect(page.locator("#terminal-state")).to_have_text("connected")
    expect(rows).to_contain_text("Untracked files")
    page.click("#terminal-screen")
    page.keyboard.type("echo still-$((40+2))\n")
    expect(rows).to_contain_text("still-42", timeout=20_000)
    shots(page, "terminal-survives-swap")
