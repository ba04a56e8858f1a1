"""``manage.py task`` with sessions wired: create with --follow --approve
prints the demo agent's turn as it is stored, answers its permission
request, and ends with the summary line; send --follow does the same for a
second message (real workers, the stream consumer as a process, the demo
agent in a local sandbox; both databases)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from django.conf import settings

from tasks.models import Task
from tasks.session_models import Session
from tests.conftest import child_env

pytestmark = [pytest.mark.workers, pytest.mark.timeout(300)]


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "task", *args], cwd=settings.BASE_DIR,
        env={**child_env(), **env}, capture_output=True, text=True, timeout=240,
    )


@pytest.mark.django_db(transaction=True)
def test_create_and_send_follow_the_turn(task_stack: Any) -> None:
    stack = task_stack()
    env = stack.sandboxes.stack.workers.env
    created = run_cli(env, "create", stack.org, "repo-001", "--prompt",
                      "Add a line to the README", "--follow", "--approve", "--json")
    assert created.returncode == 0, created.stderr
    summary = json.loads(created.stdout.strip().splitlines()[-1])
    assert list(summary) == ["task_id", "branch", "status", "session_id", "events",
                             "files_changed", "pr_number"]
    assert "Hello! I am Foundry's demo agent." in created.stdout
    record = Task.objects.get(org=stack.org, task_id=summary["task_id"])
    session = Session.objects.get(session_id=summary["session_id"])
    assert session.task_id == record.pk and summary["events"] == session.events.count() > 5
    assert summary["status"] == "idle" and summary["files_changed"] >= 1

    sent = run_cli(env, "send", f"{stack.org}/{record.task_id}", "And once more", "--follow",
                   "--approve")
    assert sent.returncode == 0, sent.stderr
    assert "Hello! I am Foundry's demo agent." in sent.stdout
    assert Session.objects.get(pk=session.pk).events.count() > summary["events"]
