"""``python manage.py task``: clear errors with a non-zero exit, and the
``--json`` summary lines of show and pr (real workers, the emulator, a
local sandbox; PostgreSQL and SQLite)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from foundry.actors.models import ActorInstance
from foundry.actors.presence import queues_without_worker
from orgs.models import TaskIndexEntry
from tasks import workspace
from tasks.materialize import create_task
from tasks.models import Task
from tests.conftest import child_env, wait_until

from .conftest import ORG, TaskStack
from .test_git_and_pull_requests import in_sandbox

pytestmark = [pytest.mark.workers, pytest.mark.timeout(300)]
SUMMARY_KEYS = ["task_id", "branch", "status", "session_id", "events", "files_changed",
                "pr_number"]


def task_cli(*args: str) -> str:
    out = io.StringIO()
    call_command("task", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def last_json(output: str) -> dict[str, Any]:
    line = output.strip().splitlines()[-1]
    data: dict[str, Any] = json.loads(line)
    assert list(data) == SUMMARY_KEYS
    return data


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The command in its own process, as a person runs it."""
    return subprocess.run(
        [sys.executable, "manage.py", "task", *args], cwd=settings.BASE_DIR,
        env=child_env(), capture_output=True, text=True, timeout=120,
    )


@pytest.mark.django_db(transaction=True)
def test_unknown_names_and_no_worker_are_clear_errors(task_stack: TaskStack) -> None:
    """Unknown organization, repository, task and person: a message naming
    it and exit status 1, no traceback; without a worker the command says
    which one to start."""
    done = run_cli("create", "globex", "repo-001", "--prompt", "x")
    assert done.returncode == 1
    assert "unknown organization 'globex' (known: acme" in done.stderr
    assert "Traceback" not in done.stderr
    with pytest.raises(CommandError, match="has no repository 'nope' .*repo-001"):
        task_cli("create", ORG, "nope", "--prompt", "x")
    with pytest.raises(CommandError, match="unknown task: no organization has a task 'zzz'"):
        task_cli("show", "zzz")
    with pytest.raises(CommandError, match="unknown task: task 'zzz' is not in the task index"):
        task_cli("push", f"{ORG}/zzz")
    with pytest.raises(CommandError, match="'carol' has never signed in"):
        task_cli("create", ORG, "repo-001", "--prompt", "x", "--as", "carol")

    task_stack.sandboxes.stack.workers.stop()  # SIGKILL: counts until its presence is stale
    wait_until(lambda: queues_without_worker(["actors.task"]), timeout=30,
               what="the killed worker's presence to go stale")
    entry = TaskIndexEntry.objects.filter(org=ORG).first()
    assert entry is not None
    done = run_cli("show", entry.task_id)
    assert done.returncode == 1
    assert "celery -A foundry worker" in done.stderr and "actors.task" in done.stderr
    assert not ActorInstance.objects.filter(actor_type="task").exists()


@pytest.mark.django_db(transaction=True)
def test_show_push_and_pr_with_json_summaries(task_stack: TaskStack) -> None:
    """show materializes a virtual task; on a task with a change in its
    sandbox, show --json counts the file, push --as pushes as that person,
    pr --json ends with the PR's number."""
    entry = TaskIndexEntry.objects.filter(org=ORG).order_by("task_id").first()
    assert entry is not None
    shown = last_json(task_cli("show", entry.task_id, "--json"))
    assert shown == {"task_id": entry.task_id, "branch": entry.branch, "status": "idle",
                     "session_id": None, "events": 0, "files_changed": 0,
                     "pr_number": entry.pr_number}
    assert ActorInstance.objects.filter(actor_type="task").count() == 1

    out = create_task(ORG, task_stack.repo_full_name(), "Add a changelog")
    task_id = out["task_id"]
    workspace.ensure_sandbox(Task.objects.get(org=ORG, task_id=task_id))
    in_sandbox(task_id, "printf 'v1\\n' > CHANGELOG")
    assert last_json(task_cli("show", task_id, "--json"))["files_changed"] == 1
    human = task_cli("show", f"{ORG}/{task_id}")
    assert "A CHANGELOG +1 -0" in human and "(none: the GitHub App)" in human

    pushed = task_cli("push", task_id, "--as", "bob")
    assert f"Pushed {out['branch']}" in pushed and "as bob" in pushed
    assert Task.objects.get(org=ORG, task_id=task_id).owner.username == "bob"
    summary = last_json(task_cli("pr", task_id, "--json"))
    assert summary["pr_number"] is not None and summary["branch"] == out["branch"]
    assert summary["files_changed"] == 0 and summary["status"] == "idle"
    assert f"#{summary['pr_number']} open" in task_cli("show", task_id)


@pytest.mark.django_db(transaction=True)
def test_create_writes_the_task_and_starts_its_session(task_stack: TaskStack) -> None:
    """create writes the record (the person of --as owns it), starts a
    session with the prompt and ends with the summary line; stop reaches
    that session."""
    summary = last_json(task_cli(
        "create", ORG, "repo-001", "--prompt", "Write docs", "--as", "alice", "--json"))
    record = Task.objects.get(org=ORG, title="Write docs")
    assert record.owner.username == "alice" and record.repo_full_name == f"{ORG}/repo-001"
    assert summary["task_id"] == record.task_id and summary["branch"] == record.branch
    assert summary["session_id"]
    task_cli("stop", record.task_id)
