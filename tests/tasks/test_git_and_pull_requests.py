"""Git state, push and pull requests of a task, in a local sandbox cloned
from the emulator (real sandbox-agent, real workers; PostgreSQL and
SQLite): a change shows with M/A/D and +/-, a file is reverted, the branch
is pushed and the PR opened as the owner, and the PR's merge archives the
task without a second, virtual task."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from audit_log.models import AuditEntry, AuditKind
from foundry.actors import ActorError
from orgs.models import TaskIndexEntry, TaskSummary
from sandboxes.models import Sandbox
from tasks import workspace
from tasks.actor import task
from tasks.git_state import FileChange
from tasks.materialize import create_task
from tasks.models import Task

from .conftest import ORG, TaskStack, settle

pytestmark = [pytest.mark.workers, pytest.mark.timeout(300)]


def in_sandbox(task_id: str, script: str) -> str:
    """What an agent would do: a shell command in the task's repository."""
    with workspace.sandbox_git(ORG, task_id) as (proc, row):
        result = proc.run("sh", ["-c", script], cwd=row.repo_path)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def github(emulator: Any, path: str) -> httpx.Response:
    headers = {"Authorization": f"token {emulator.installation_token()}"}
    return httpx.get(f"{emulator.base_url}{path}", headers=headers, timeout=30)


def detail(task_id: str) -> Any:
    return task.get(org=ORG, task=task_id).read("task.read.detail")


@pytest.mark.django_db(transaction=True)
def test_git_state_push_pr_and_merge(task_stack: TaskStack) -> None:
    emulator = task_stack.emulator
    repo = task_stack.repo_full_name()
    out = create_task(ORG, repo, "Add a notes file", owner_login="alice")
    task_id, branch = out["task_id"], out["branch"]
    handle = task.get(org=ORG, task=task_id)

    # No sandbox yet: the detail says so instead of failing.
    before = detail(task_id)
    assert before.git is None and "not provisioned" in before.git_unavailable

    record = Task.objects.get(org=ORG, task_id=task_id)
    workspace.ensure_sandbox(record)
    in_sandbox(task_id, "printf 'one more line\\n' >> README.md; printf 'a\\nb\\n' > notes.txt")
    state = detail(task_id).git
    assert state.files == [FileChange("README.md", "M", 1, 0), FileChange("notes.txt", "A", 2, 0)]
    assert (state.ahead, state.behind, state.base_branch) == (0, 0, "main")
    diff = handle.read("task.read.file_diff", "notes.txt")
    assert "+a\n+b" in diff
    assert "+one more line" in handle.read("task.read.file_diff", "README.md")

    reverted = handle.send("task.command.revert_file", {"path": "notes.txt"}, wait=True)
    assert (reverted["files_changed"], reverted["lines_added"]) == (1, 1)
    assert detail(task_id).git.files == [FileChange("README.md", "M", 1, 0)]
    handle.send("task.command.revert_file", {"path": "README.md"}, wait=True)
    assert detail(task_id).git.files == []
    in_sandbox(task_id, "printf 'from the agent\\n' >> README.md")
    handle.send("task.command.refresh_git_state", {}, wait=True)
    settle()
    assert (TaskSummary.objects.get(org=ORG, task_id=task_id).lines_added) == 1

    pushed = handle.send("task.command.push", {"acting_login": "alice"}, wait=True, timeout=120)
    assert pushed["committed"] and not pushed["as_app"]
    on_github = github(emulator, f"/repos/{repo}/branches/{branch}")
    assert on_github.status_code == 200
    assert on_github.json()["commit"]["sha"] == pushed["head_sha"]
    author = in_sandbox(task_id, "git log -1 --format='%an <%ae>'").strip()
    assert author == "Alice <alice@example.com>"  # the owner's identity
    assert detail(task_id).git.ahead == 1
    assert AuditEntry.objects.filter(kind=AuditKind.BRANCH_PUSHED, target=task_id).exists()
    credentials = (
        Sandbox.objects.get(org=ORG, sandbox_id=task_id).home_path + "/.git-credentials"
    )
    assert emulator.user_token("alice") not in in_sandbox(task_id, "git remote -v")
    assert "x-access-token:" in open(credentials).read()

    opened = handle.send("task.command.publish_pr", {"acting_login": "alice"}, wait=True,
                         timeout=120)
    number = opened["pr_number"]
    pr = github(emulator, f"/repos/{repo}/pulls/{number}").json()
    assert (pr["head"]["ref"], pr["base"]["ref"], pr["title"], pr["user"]["login"]) == (
        branch, "main", "Add a notes file", "alice")
    settle()
    entries = TaskIndexEntry.objects.filter(org=ORG, repo_id=out["repo_id"], pr_number=number)
    assert [e.task_id for e in entries] == [task_id], "the PR links to the task, no second one"
    summary = TaskSummary.objects.get(org=ORG, task_id=task_id)
    assert (summary.pr_number, summary.pr_state, summary.owner_login) == (number, "open", "alice")
    assert AuditEntry.objects.get(kind=AuditKind.PR_OPENED, target=task_id).actor == "alice"
    again = handle.send("task.command.publish_pr", {}, wait=True, timeout=120)
    assert again["pr_number"] == number  # the open PR is found, not opened twice

    emulator.dataset.merge_pull_request(repo, number, "alice")
    settle()
    record.refresh_from_db()
    assert (record.archived, record.archived_reason, record.pr_state) == (
        True, "PR merged", "merged")
    summary.refresh_from_db()
    assert (summary.status, summary.archived_reason) == ("archived", "PR merged")
    assert [e.task_id for e in TaskIndexEntry.objects.filter(org=ORG, branch=branch)] == [task_id]
    with pytest.raises(ActorError, match="archived"):
        handle.send("task.command.push", {}, wait=True, timeout=60)


@pytest.mark.django_db(transaction=True)
def test_without_an_owner_git_runs_as_the_app(task_stack: TaskStack) -> None:
    """A task nobody owns pushes with an installation token and the App's
    git identity, and opens its PR as the App."""
    out = create_task(ORG, task_stack.repo_full_name(), "Bump the version")
    handle = task.get(org=ORG, task=out["task_id"])
    workspace.ensure_sandbox(Task.objects.get(org=ORG, task_id=out["task_id"]))
    in_sandbox(out["task_id"], "printf '1.0.1\\n' > VERSION")
    pushed = handle.send("task.command.push", {}, wait=True, timeout=120)
    assert pushed["as_app"]
    sha = github(task_stack.emulator,
                 f"/repos/{task_stack.repo_full_name()}/branches/{out['branch']}")
    assert sha.json()["commit"]["sha"] == pushed["head_sha"]
    author = in_sandbox(out["task_id"], "git log -1 --format='%an <%ae>'").strip()
    assert author == f"{workspace.APP_NAME} <{workspace.APP_EMAIL}>"
    assert AuditEntry.objects.get(kind=AuditKind.BRANCH_PUSHED, target=out["task_id"]).actor == (
        "system")
    opened = handle.send("task.command.publish_pr", {}, wait=True, timeout=120)
    pr = github(task_stack.emulator, f"/repos/{task_stack.repo_full_name()}/pulls/"
                f"{opened['pr_number']}").json()
    assert pr["user"]["login"].endswith("[bot]") and pr["head"]["ref"] == out["branch"]
