"""The task actor's record with real workers, on the emulator (PostgreSQL
and SQLite): lazy materialization of virtual tasks, new tasks from a
prompt, rename / archive / owner, and the summary pushed to the
organization after each change."""

from __future__ import annotations

import re

import pytest

from audit_log.models import AuditEntry, AuditKind
from foundry.actors import ActorError
from foundry.actors.models import ActorInstance
from github_data.models import GitHubBranch, GitHubPullRequest
from orgs.models import TaskIndexEntry, TaskSummary
from orgs.reads import TaskNotFound
from tasks.actor import task
from tasks.materialize import create_task, open_task
from tasks.models import Task
from tests.conftest import wait_until

from .conftest import ORG, TaskStack, settle

pytestmark = [pytest.mark.workers, pytest.mark.timeout(300)]


def task_actors() -> set[str]:
    return set(ActorInstance.objects.filter(actor_type="task").values_list("key", flat=True))


def summary(task_id: str) -> TaskSummary:
    return TaskSummary.objects.get(org=ORG, task_id=task_id)


@pytest.mark.django_db(transaction=True)
def test_a_virtual_task_gets_an_actor_only_when_a_person_opens_it(task_stack: TaskStack) -> None:
    """Sync and webhooks leave virtual tasks as rows; opening one creates its
    actor, which initializes from the index entry; an unknown id is a clear
    not-found and creates nothing; a PR edit leaves the task's own title on
    its summary; closing its PR archives the record."""
    entries = list(TaskIndexEntry.objects.filter(org=ORG).order_by("task_id"))
    assert len(entries) == 2 and task_actors() == set()
    task_stack.emulator.dataset.push(task_stack.repo_full_name(), entries[0].branch)
    settle()
    assert task_actors() == set(), "a push webhook must not create a task actor"

    entry = entries[0]
    handle = open_task(ORG, entry.task_id)
    assert task_actors() == {f"{ORG}/{entry.task_id}"}
    wait_until(lambda: Task.objects.filter(org=ORG, task_id=entry.task_id).exists(),
               timeout=30, what="the record")
    record = Task.objects.get(org=ORG, task_id=entry.task_id)
    assert (record.branch, record.pr_number, record.repo_id) == (
        entry.branch, entry.pr_number, entry.repo_id)
    assert record.title == summary(entry.task_id).title and record.pr_state == "open"
    assert record.repo_full_name.startswith(f"{ORG}/") and record.base_branch == "main"
    assert open_task(ORG, entry.task_id).instance_id == handle.instance_id

    with pytest.raises(TaskNotFound, match="not in the task index"):
        open_task(ORG, "pr-0-404")
    with pytest.raises(TaskNotFound):
        open_task("no-such-org", entry.task_id)
    assert len(task_actors()) == 1

    repo = record.repo_full_name
    handle.send("task.command.rename", {"title": "Our own name"}, wait=True)
    task_stack.emulator.dataset.edit_pull_request(repo, entry.pr_number, "GitHub's", None, None)
    settle()
    edited = GitHubPullRequest.objects.get(repository__github_id=entry.repo_id,
                                           number=entry.pr_number)
    assert edited.title == "GitHub's", "the edit's webhook was applied"
    assert summary(entry.task_id).title == "Our own name", "the task's summary wins"
    task_stack.emulator.dataset.close_pull_request(repo, entry.pr_number, None)
    settle()
    record.refresh_from_db()
    assert (record.archived, record.archived_reason, record.pr_state) == (
        True, "PR closed", "closed")
    assert summary(entry.task_id).status == "archived"
    assert len(task_actors()) == 1, "the other virtual task still has no actor"


@pytest.mark.django_db(transaction=True)
def test_a_task_from_a_prompt(task_stack: TaskStack) -> None:
    """Random id, generated branch word-xxxx, title = first non-empty line cut
    to 62; the record, the index entry (owning the branch) and the summary
    exist when create returns; an explicit name is sanitised, and taken
    names (another task's, a GitHub branch) are retried with a suffix."""
    prompt = ("\n   \n  Make the login page remember the last organization a person "
              "chose, and show it first\nsecond line")
    out = create_task(ORG, task_stack.repo_full_name(), prompt, owner_login="alice")
    task_id, branch = out["task_id"], out["branch"]
    assert re.fullmatch(r"t-[0-9a-f]{12}", task_id)
    assert re.fullmatch(r"[a-z]+-[a-z0-9]{4}", branch)
    assert out["title"] == "Make the login page remember the last organization a person ch"
    assert len(out["title"]) == 62
    record = Task.objects.get(org=ORG, task_id=task_id)  # written before create returned
    assert (record.origin, record.owner.username, record.prompt) == ("prompt", "alice", prompt)
    entry = TaskIndexEntry.objects.get(org=ORG, task_id=task_id)
    assert entry.owns_branch and entry.branch == branch and entry.pr_number is None
    row = summary(task_id)
    assert (row.title, row.owner_login, row.status) == (out["title"], "alice", "idle")
    assert AuditEntry.objects.filter(kind=AuditKind.TASK_CREATED, target=task_id,
                                     actor="alice").exists()

    named = create_task(ORG, task_stack.repo_full_name(), "x", branch_name="  Fix: Login Page!! ")
    assert named["branch"] == "fix-login-page" and named["branch_conflicts"] == []
    again = create_task(ORG, task_stack.repo_full_name(), "x", branch_name="fix login page")
    assert re.fullmatch(r"fix-login-page-[a-z0-9]{4}", again["branch"])
    assert again["branch_conflicts"] == [
        f"branch 'fix-login-page' belongs to task {named['task_id']!r}"]
    pr_heads = TaskIndexEntry.objects.filter(org=ORG).values_list("branch", flat=True)
    on_github = GitHubBranch.objects.filter(  # a branch no task has
        org=ORG, repository__full_name=task_stack.repo_full_name()
    ).exclude(name__in=["main", *pr_heads]).first()
    assert on_github is not None
    clash = create_task(ORG, task_stack.repo_full_name(), "x", branch_name=on_github.name)
    assert clash["branch"].startswith(f"{on_github.name}-")
    assert "already exists on GitHub" in clash["branch_conflicts"][0]
    assert named["owner_login"] == "" and summary(named["task_id"]).owner_login == ""

    with pytest.raises(ActorError, match="has no repository"):
        create_task(ORG, f"{ORG}/nope", "x")
    with pytest.raises(ActorError, match="the prompt is empty"):
        create_task(ORG, task_stack.repo_full_name(), " \n \n")
    with pytest.raises(ActorError, match="never signed in"):
        create_task(ORG, task_stack.repo_full_name(), "x", owner_login="zed")


@pytest.mark.django_db(transaction=True)
def test_rename_archive_and_owner_change_reach_the_summary(task_stack: TaskStack) -> None:
    """Each change updates the record and the organization's summary; archive
    gives the branch up in the index and unarchive takes it back; the owner
    must be a member who signed in."""
    out = create_task(ORG, task_stack.repo_full_name(), "Tidy the docs", owner_login="alice")
    handle = task.get(org=ORG, task=out["task_id"])
    task_id = out["task_id"]

    renamed = handle.send("task.command.rename", {"title": "Tidy  the   README"}, wait=True)
    assert renamed["title"] == "Tidy the README" and renamed["branch"] == out["branch"]
    settle()
    assert summary(task_id).title == "Tidy the README"

    handle.send("task.command.archive", {"acting_login": "alice"}, wait=True)
    settle()
    entry = TaskIndexEntry.objects.get(org=ORG, task_id=task_id)
    assert entry.archived and not entry.owns_branch
    assert (summary(task_id).status, summary(task_id).archived_reason) == (
        "archived", "archived by alice")
    handle.send("task.command.unarchive", {}, wait=True)
    settle()
    entry.refresh_from_db()
    assert not entry.archived and entry.owns_branch and summary(task_id).status == "idle"

    changed = handle.send("task.command.change_owner", {"login": "bob", "acting_login": "alice"},
                          wait=True)
    assert changed["owner_login"] == "bob"
    settle()
    assert summary(task_id).owner_login == "bob"
    audit = AuditEntry.objects.get(kind=AuditKind.OWNER_CHANGED, target=task_id)
    assert (audit.actor, audit.details) == ("alice", {"from": "alice", "to": "bob"})
    with pytest.raises(ActorError, match="never signed in"):
        handle.send("task.command.change_owner", {"login": "carol"}, wait=True)
    with pytest.raises(ActorError, match="cannot be blank"):
        handle.send("task.command.rename", {"title": "   "}, wait=True)
    assert Task.objects.get(org=ORG, task_id=task_id).owner.username == "bob"
