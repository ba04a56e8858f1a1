"""The task's sandbox as a git workspace: connect to it, set the git
identity and credentials of the person the work runs as, commit and push.

The identity (KEEP 11) is the task's owner: their GitHub token, name and
e-mail. Without an owner the work runs as the GitHub App, with an
installation token. The token goes into the sandbox's git credential store
(``git credential approve`` with the ``store`` helper, under the sandbox's
own ``HOME``) through the environment of one process: never in a URL, an
argv or a log; and it is never returned from a step (the step log would
keep it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sandboxes.actor import sandbox
from sandboxes.models import Sandbox, SandboxStatus
from sandboxes.process_client import ProcessClient
from tasks.errors import TaskError
from tasks.git_state import git
from tasks.models import Task
from users.credentials import NoGitHubToken, github_token

APP_NAME = "Foundry"
APP_EMAIL = "foundry[bot]@users.noreply.github.com"
SANDBOX_WAIT_SECONDS = 180.0

SET_CREDENTIALS = (
    'git config credential.helper store'
    ' && git config user.name "$FOUNDRY_GIT_NAME"'
    ' && git config user.email "$FOUNDRY_GIT_EMAIL"'
    ' && if [ -n "$FOUNDRY_GIT_TOKEN" ]; then printf'
    ' "protocol=%s\\nhost=%s\\nusername=x-access-token\\npassword=%s\\n\\n"'
    ' "$FOUNDRY_GIT_PROTOCOL" "$FOUNDRY_GIT_HOST" "$FOUNDRY_GIT_TOKEN"'
    ' | git credential approve; fi'
)


@dataclass(frozen=True)
class GitIdentity:
    name: str
    email: str
    token: str
    as_app: bool


def repository_of(task: Task) -> dict[str, Any]:
    """What the sandbox clones: the task's repository and branch (a new
    task's branch, not on GitHub yet, is created from the default branch)."""
    return {"repo": task.repo_full_name, "branch": task.branch}


def ensure_sandbox(task: Task, *, timeout: float = SANDBOX_WAIT_SECONDS) -> dict[str, Any]:
    """The task's sandbox running (provisioned on first use). Call it from a
    handler, outside a step: the wait suspends the command, never a worker."""
    handle = sandbox.get_or_create(
        org=task.org, sandbox=task.task_id, create_with_input={"task": task.task_id}
    )
    result: dict[str, Any] = handle.send(
        "sandbox.command.ensure", {"repository": repository_of(task)}, wait=True,
        timeout=timeout,
    )
    return result


@contextmanager
def sandbox_git(org: str, task_id: str) -> Iterator[tuple[ProcessClient, Sandbox]]:
    """A process client of the task's ready sandbox, and its row."""
    row = Sandbox.objects.filter(org=org, sandbox_id=task_id).first()
    if row is None or row.status != SandboxStatus.READY:
        status = row.status if row else "not provisioned"
        raise TaskError(f"the sandbox of task {org}/{task_id} is {status}, not ready")
    handle = sandbox.get(org=org, sandbox=task_id)
    with handle.read("sandbox.read.agent_client") as client:
        yield ProcessClient(client), row


def identity_of(task: Task) -> GitIdentity:
    """The owner's token, name and e-mail, or the GitHub App's."""
    if task.owner is not None:
        owner = task.owner
        try:
            token = github_token(owner.pk)
        except NoGitHubToken as exc:
            raise TaskError(f"task {task.org}/{task.task_id}: {exc}") from exc
        login = owner.get_username()
        name = owner.get_full_name() or login
        email = owner.email or f"{login}@users.noreply.github.com"
        return GitIdentity(name, email, token, as_app=False)
    from sandboxes.commands import git_token

    return GitIdentity(APP_NAME, APP_EMAIL, git_token(task.org, None), as_app=True)


def write_credentials(proc: ProcessClient, row: Sandbox, identity: GitIdentity) -> None:
    """The identity into the sandbox repository's git config and its
    credential store (for the clone URL's host)."""
    origin = urlsplit(row.clone_url)
    env = {
        "FOUNDRY_GIT_NAME": identity.name, "FOUNDRY_GIT_EMAIL": identity.email,
        "FOUNDRY_GIT_TOKEN": identity.token, "FOUNDRY_GIT_PROTOCOL": origin.scheme,
        "FOUNDRY_GIT_HOST": origin.netloc,
    }
    result = proc.run("sh", ["-c", SET_CREDENTIALS], cwd=row.repo_path, env=env)
    if result.exit_code != 0:
        raise TaskError(
            f"writing git credentials in sandbox {row.org}/{row.sandbox_id} failed:"
            f" {result.stderr.strip()[:300]}"
        )


def commit_and_push(task: Task) -> dict[str, Any]:
    """Commit what the working tree holds (message: the task's title), then
    push the branch to GitHub as the owner (or the App). Idempotent: a
    second run has nothing to commit and pushes the same head."""
    if task.head_repo_full_name and task.head_repo_full_name != task.repo_full_name:
        raise TaskError(
            f"task {task.org}/{task.task_id}: its branch lives in the fork"
            f" {task.head_repo_full_name}; Foundry pushes only to {task.repo_full_name}"
        )
    identity = identity_of(task)
    with sandbox_git(task.org, task.task_id) as (proc, row):
        repo = row.repo_path
        write_credentials(proc, row, identity)
        committed = False
        if git(proc, repo, "status", "--porcelain").stdout.strip():
            git(proc, repo, "add", "-A")
            git(proc, repo, "commit", "-q", "-m", task.title)
            committed = True
        git(proc, repo, "push", "-q", "-u", "origin", f"HEAD:refs/heads/{task.branch}",
            env={"GIT_TERMINAL_PROMPT": "0"})  # no terminal to ask on: fail instead
        head = git(proc, repo, "rev-parse", "HEAD").stdout.strip()
    return {"committed": committed, "head_sha": head, "as_app": identity.as_app}
