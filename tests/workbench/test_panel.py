"""The task view's right panel and its terminal, on a real local sandbox
cloned from the emulator (real sandbox-agent, real workers; PostgreSQL and
SQLite): Overview, Changes after a file edit, a file's diff with its line
numbers, revert, push and Open PR through the buttons' endpoints, owner
changes, membership 404s, and a terminal socket that runs ``git status``."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from orgs.models import TaskSummary
from tasks import workspace
from tasks.materialize import create_task
from tasks.models import Task
from tests.tasks.conftest import ORG, TaskStack, settle
from users.models import Membership

pytestmark = [pytest.mark.workers, pytest.mark.timeout(300)]


def signed_in(login: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=login))
    return client


def in_sandbox(task_id: str, script: str) -> None:
    with workspace.sandbox_git(ORG, task_id) as (proc, row):
        result = proc.run("sh", ["-c", script], cwd=row.repo_path)
    assert result.exit_code == 0, result.stderr


def url(task_id: str, rest: str) -> str:
    return f"/o/{ORG}/t/{task_id}/panel/{rest}"


def new_task_with_sandbox(task_stack: TaskStack) -> str:
    out = create_task(ORG, task_stack.repo_full_name(), "Add a notes file", owner_login="alice")
    workspace.ensure_sandbox(Task.objects.get(org=ORG, task_id=out["task_id"]))
    return str(out["task_id"])


@pytest.mark.django_db(transaction=True)
def test_panel_changes_diff_revert_push_and_pr(task_stack: TaskStack) -> None:
    task_id = new_task_with_sandbox(task_stack)
    alice = signed_in("alice")

    overview = alice.get(url(task_id, "overview/"))
    assert overview.status_code == 200
    body = overview.content.decode()
    assert "acme/repo-001" in body and 'id="panel-branch"' in body
    assert ">ready<" in body and 'id="sandbox-pause"' in body
    assert '<option value="bob"' in body

    in_sandbox(task_id, "printf 'one more line\\n' >> README.md; printf 'a\\nb\\n' > notes.txt")
    changes = alice.get(url(task_id, "changes/")).content.decode()
    assert 'data-path="README.md"' in changes and 'data-path="notes.txt"' in changes
    assert "status-A" in changes and "+2" in changes

    diff = alice.get(url(task_id, "diff/"), {"path": "notes.txt"}).content.decode()
    assert 'data-attach="notes.txt:1"' in diff and 'data-attach="notes.txt:2"' in diff

    files = alice.get(url(task_id, "files/")).content.decode()
    assert 'data-path="notes.txt"' in files and 'data-path="README.md"' in files

    reverted = alice.post(url(task_id, "revert/"), {"path": "notes.txt"}).content.decode()
    assert "Reverted notes.txt." in reverted
    assert 'data-path="notes.txt"' not in reverted and 'data-path="README.md"' in reverted

    pushed = alice.post(url(task_id, "push/"), {"tab": "changes"}).content.decode()
    assert "Committed and pushed" in pushed, pushed
    opened = alice.post(url(task_id, "pr/"), {"tab": "overview"}).content.decode()
    assert "Pull request #" in opened and "is open" in opened, opened
    settle()
    summary = TaskSummary.objects.get(org=ORG, task_id=task_id)
    assert summary.pr_number is not None and f'PR #{summary.pr_number}' in opened

    owner = alice.post(url(task_id, "owner/"), {"login": "bob"}).content.decode()
    assert "bob owns this task now." in owner
    assert Task.objects.get(org=ORG, task_id=task_id).owner.get_username() == "bob"
    refused = alice.post(url(task_id, "owner/"), {"login": "mallory"}).content.decode()
    assert "mallory is not a member of acme." in refused


@pytest.mark.django_db(transaction=True)
def test_panel_is_for_members_of_the_tasks_organization(task_stack: TaskStack) -> None:
    task_id = new_task_with_sandbox(task_stack)
    outsider = get_user_model().objects.create_user("carol")
    Membership.objects.create(user=outsider, org="elsewhere")
    carol = signed_in("carol")
    for path in ("overview/", "changes/", "files/", "diff/?path=README.md", "page/"):
        assert carol.get(url(task_id, path)).status_code == 404, path
    for path in ("push/", "pr/", "revert/", "owner/", "sandbox/destroy/"):
        assert carol.post(url(task_id, path), {"path": "README.md"}).status_code == 404, path
    # A member of acme asking for the task under another organization: 404.
    alice = signed_in("alice")
    assert alice.get(f"/o/elsewhere/t/{task_id}/panel/overview/").status_code == 404
    assert alice.get(url("no-such-task", "overview/")).status_code == 404
    assert alice.get(url(task_id, "nonsense/")).status_code == 404
    anonymous = Client().get(url(task_id, "overview/"))
    assert anonymous.status_code == 302


@pytest.mark.django_db(transaction=True)
def test_sandbox_pause_resume_destroy_from_the_overview(task_stack: TaskStack) -> None:
    task_id = new_task_with_sandbox(task_stack)
    alice = signed_in("alice")
    paused = alice.post(url(task_id, "sandbox/pause/")).content.decode()
    assert "Sandbox paused." in paused and 'id="sandbox-resume"' in paused
    changes = alice.get(url(task_id, "changes/")).content.decode()
    assert 'id="changes-unavailable"' in changes and "paused" in changes
    resumed = alice.post(url(task_id, "sandbox/resume/")).content.decode()
    assert "Sandbox running." in resumed and ">ready<" in resumed
    destroyed = alice.post(url(task_id, "sandbox/destroy/")).content.decode()
    assert "Sandbox destroyed." in destroyed and 'id="sandbox-start"' in destroyed


@pytest.mark.django_db(transaction=True)
def test_terminal_socket_runs_git_status(task_stack: TaskStack, ws_clients: Any) -> None:
    task_id = new_task_with_sandbox(task_stack)
    in_sandbox(task_id, "printf 'typed in a terminal\\n' > terminal.txt")
    alice = get_user_model().objects.get(username="alice")
    client = Client()
    client.force_login(alice)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    path = f"/ws/o/{ORG}/t/{task_id}/terminal/"

    term = ws_clients(path, cookie)
    assert term.next()["type"] == "ready"
    term.ws.send('{"type": "resize", "cols": 120, "rows": 30}')
    term.ws.send('{"type": "input", "data": "git status --short; echo done-$((6*7))\\n"}')
    output, deadline = "", time.monotonic() + 30
    while "done-42" not in output and time.monotonic() < deadline:
        message = term.next(timeout=30)
        assert message["type"] in ("output", "error"), message
        output += message.get("data", "")
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)  # git colours "??"
    assert "?? terminal.txt" in plain and "done-42" in plain, output

    anonymous = ws_clients(path, None)
    assert anonymous.next() == {"type": "closed", "code": 4401}
    outsider = get_user_model().objects.create_user("carol")
    Membership.objects.create(user=outsider, org="elsewhere")
    client.force_login(outsider)
    stranger = ws_clients(path, f"sessionid={client.cookies['sessionid'].value}".encode())
    assert stranger.next() == {"type": "closed", "code": 4404}
