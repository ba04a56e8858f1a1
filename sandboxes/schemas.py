"""Payloads of the sandbox actor's commands."""

from __future__ import annotations

from pydantic import BaseModel, model_validator


class RepositoryIn(BaseModel):
    """The task's repository and branch: ``repo`` as ``owner/name`` (looked
    up in the organization's repository table for its clone URL), or a
    ``clone_url``; ``installation_id`` of the GitHub App that may read it
    (default: the organization's)."""

    repo: str = ""
    clone_url: str = ""
    branch: str
    installation_id: int | None = None

    @model_validator(mode="after")
    def _repo_or_url(self) -> RepositoryIn:
        if not self.repo and not self.clone_url:
            raise ValueError("give the repository as repo (owner/name) or clone_url")
        return self


class EnsureIn(BaseModel):
    """Ensure needs the repository only when the sandbox was never provisioned."""

    repository: RepositoryIn | None = None


class ActivityIn(BaseModel):
    """Who uses the sandbox: a browser watching it (for ``watch_seconds``
    from now) and whether an agent turn runs in it."""

    watch_seconds: float | None = None
    turn_running: bool | None = None
