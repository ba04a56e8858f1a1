"""Fixtures for the task tests: a synced organization on the emulator
(git behind a token, webhooks to the live server), people who signed in,
local sandboxes, and real workers for every actor a task talks to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from foundry.actors.models import OPEN_STATUSES, Command, CommandStatus
from github_data.actor import github_data
from github_data.emulator.people import Person
from tests.conftest import wait_until
from tests.github_data.conftest import (  # noqa: F401  (fixtures used here)
    app_key_pem,
    github_stack,
    make_emulator,
)
from tests.sandboxes.conftest import SandboxStack, sandbox_stack  # noqa: F401 (a fixture)
from users.credentials import store_github_token
from users.models import Membership

TASK_QUEUES = ("actors.organization,actors.github_data,actors.sandbox,actors.task,actors.user,"
               "maintenance")
ORG = "acme"


def settle(timeout: float = 90) -> None:
    """Every command sent so far (and those they sent) finished; none failed."""
    wait_until(
        lambda: not Command.objects.filter(status__in=OPEN_STATUSES).exists(),
        timeout=timeout, what="all commands to finish",
    )
    failed = list(Command.objects.filter(status=CommandStatus.FAILED).values_list(
        "name", "error_type", "error_message"))
    assert not failed, failed


def sign_in(emulator: Any, login: str, org: str = ORG) -> Any:
    """What the sign-in helper does for a person: a user named by their
    GitHub login, their membership, their (emulator-issued) token."""
    user = get_user_model().objects.create_user(
        username=login, email=f"{login}@example.com", first_name=login.title()
    )
    Membership.objects.create(user=user, org=org)
    store_github_token(user.pk, emulator.user_token(login))
    return user


@dataclass
class TaskStack:
    sandboxes: SandboxStack

    @property
    def emulator(self) -> Any:
        return self.sandboxes.emulator

    def repo_full_name(self, name: str = "repo-001") -> str:
        return f"{self.emulator.org}/{name}"


@pytest.fixture
def task_stack(
    sandbox_stack: Callable[..., SandboxStack], live_server: Any,  # noqa: F811
) -> TaskStack:
    """acme (2 repositories, one open PR each, alice and bob members),
    fully synced by a real worker; webhooks go to the live server; alice
    and bob have signed in."""
    people = (Person("alice", "Alice Archer", member_of=(ORG,)),
              Person("bob", "Bob Baker", member_of=(ORG,)))
    stack = sandbox_stack(repos=2, branches_per_repo=3, prs_per_repo=1, members=2,
                          people=people)
    stack.start_workers(queues=TASK_QUEUES)
    handle = github_data.get_or_create(org=ORG, create_with_input={"org": ORG})
    handle.send("github_data.command.full_sync",
                {"org": ORG, "installation_id": stack.emulator.installation_id},
                wait=True, timeout=120)
    settle()
    stack.emulator.webhooks.configure(url=f"{live_server.url}/github/webhook")
    for login in ("alice", "bob"):
        sign_in(stack.emulator, login)
    return TaskStack(stack)
