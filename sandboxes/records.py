"""Writes of the sandbox actor's rows, each run inside one of its steps.

Every status change appends a ``SandboxEvent`` and is published to the
sandbox's Channels group after commit, so watching browsers hear that a
sandbox expired or came back.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from foundry.live import publish_on_commit
from github_data.models import GitHubRepository
from sandboxes.models import Sandbox, SandboxEvent, SandboxStatus
from sandboxes.providers import SandboxPlace, SandboxSpec, provider_name_for
from sandboxes.schemas import RepositoryIn


class SandboxNotProvisioned(Exception):
    def __init__(self, org: str, sandbox_id: str) -> None:
        super().__init__(
            f"sandbox {org}/{sandbox_id} was never provisioned and no repository was given"
        )


class RepositoryNotFound(Exception):
    def __init__(self, org: str, repo: str) -> None:
        super().__init__(f"repository {repo!r} is not in organization {org!r}'s repositories")


def sandbox_group(org: str, sandbox_id: str) -> str:
    return f"sandbox.{org}.{sandbox_id}"


def row(org: str, sandbox_id: str) -> Sandbox | None:
    return Sandbox.objects.filter(org=org, sandbox_id=sandbox_id).first()


def place_of(sandbox: Sandbox) -> SandboxPlace:
    return SandboxPlace(**sandbox.place_fields())


def spec_of(sandbox: Sandbox) -> SandboxSpec:
    return SandboxSpec(
        org=sandbox.org, sandbox_id=sandbox.sandbox_id, generation=sandbox.generation,
        clone_url=sandbox.clone_url, branch=sandbox.branch,
    )


def set_status(sandbox: Sandbox, status: str, detail: str = "", **fields: Any) -> None:
    """Save ``status`` (and fields); a change of status is an event."""
    changed = sandbox.status != status or sandbox.status_detail != detail
    sandbox.status = status
    sandbox.status_detail = detail
    for name, value in fields.items():
        setattr(sandbox, name, value)
    sandbox.updated_at = timezone.now()
    sandbox.save()
    if changed:
        SandboxEvent.objects.create(
            sandbox=sandbox, generation=sandbox.generation, status=status, detail=detail
        )
        publish_on_commit(
            sandbox_group(sandbox.org, sandbox.sandbox_id), "sandbox.changed",
            {"status": status, "detail": detail, "generation": sandbox.generation},
        )


def resolve_clone_url(org: str, repository: RepositoryIn) -> tuple[str, str]:
    """(full name, clone URL) of the task's repository."""
    if repository.clone_url:
        return repository.repo, repository.clone_url
    found = GitHubRepository.objects.filter(org=org, full_name=repository.repo).first()
    if found is None or not found.clone_url:
        raise RepositoryNotFound(org, repository.repo)
    return found.full_name, found.clone_url


def begin_provisioning(org: str, sandbox_id: str, repository: dict[str, Any],
                       why: str) -> dict[str, Any]:
    """A new generation: the sandbox is provisioning. Returns the spec, and
    the previous generation's place and provider, which is destroyed first."""
    repo = RepositoryIn.model_validate(repository)
    full_name, clone_url = resolve_clone_url(org, repo)
    sandbox, _ = Sandbox.objects.get_or_create(
        org=org, sandbox_id=sandbox_id, defaults={"provider": provider_name_for(org)}
    )
    previous = None
    if sandbox.generation and sandbox.provider_sandbox_id:
        previous = {"provider": sandbox.provider, "place": place_of(sandbox).to_json()}
    sandbox.generation += 1
    set_status(
        sandbox, SandboxStatus.PROVISIONING, why,
        provider=provider_name_for(org), repo_full_name=full_name, clone_url=clone_url,
        branch=repo.branch, installation_id=repo.installation_id, provider_sandbox_id="",
        agent_url="", agent_token="", home_path="", repo_path="", server_pid=None,
        server_started_at=None, last_used_at=timezone.now(),
    )
    return {
        "spec": {"org": org, "sandbox_id": sandbox_id, "generation": sandbox.generation,
                 "clone_url": clone_url, "branch": repo.branch},
        "provider": sandbox.provider,
        "previous": previous,
    }


def save_place(org: str, sandbox_id: str, place: SandboxPlace) -> dict[str, Any]:
    sandbox = Sandbox.objects.get(org=org, sandbox_id=sandbox_id)
    for name, value in place.to_json().items():
        if hasattr(sandbox, name) and name != "restarted":
            setattr(sandbox, name, value)
    sandbox.updated_at = timezone.now()
    sandbox.save()
    return place.to_json()


def mark_ready(org: str, sandbox_id: str, place: SandboxPlace, detail: str = "") -> dict[str, Any]:
    sandbox = Sandbox.objects.get(org=org, sandbox_id=sandbox_id)
    save_place(org, sandbox_id, place)
    sandbox.refresh_from_db()
    epoch = sandbox.server_epoch + (1 if place.restarted else 0)
    if place.restarted:
        detail = detail or "the agent server was started again: its sessions are gone"
    set_status(sandbox, SandboxStatus.READY, detail, server_epoch=epoch,
               last_used_at=timezone.now())
    return describe(sandbox)


def record_gone(org: str, sandbox_id: str, status: str, detail: str) -> dict[str, Any]:
    sandbox = Sandbox.objects.get(org=org, sandbox_id=sandbox_id)
    set_status(sandbox, status, detail, server_pid=None, server_started_at=None)
    return describe(sandbox)


def describe(sandbox: Sandbox) -> dict[str, Any]:
    """What commands return: the sandbox's state, without secrets."""
    return {
        "org": sandbox.org,
        "sandbox_id": sandbox.sandbox_id,
        "provider": sandbox.provider,
        "provider_sandbox_id": sandbox.provider_sandbox_id,
        "status": sandbox.status,
        "detail": sandbox.status_detail,
        "generation": sandbox.generation,
        "server_epoch": sandbox.server_epoch,
        "agent_url": sandbox.agent_url,
        "home_path": sandbox.home_path,
        "repo_path": sandbox.repo_path,
        "branch": sandbox.branch,
    }
