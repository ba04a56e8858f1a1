"""Payloads of the task actor's (non-session) commands."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CreateTaskIn(BaseModel):
    """A new task from a prompt, in repository ``repo_full_name``."""

    prompt: str = Field(min_length=1)
    repo_full_name: str
    branch_name: str = ""  # a person's choice; generated when empty
    owner_login: str = ""  # the person creating it (none: the GitHub App)


class ActingIn(BaseModel):
    """Who asked (a GitHub login; empty: the GitHub App / the system)."""

    acting_login: str = ""


class RenameIn(ActingIn):
    title: str = Field(min_length=1, max_length=500)


class ArchiveIn(ActingIn):
    reason: str = Field(default="", max_length=100)


class ChangeOwnerIn(ActingIn):
    login: str


class RevertFileIn(ActingIn):
    path: str = Field(min_length=1)


class PublishPrIn(ActingIn):
    title: str = ""  # default: the task's title
    body: str = ""
    draft: bool = False


class PullRequestChangedIn(BaseModel):
    """The organization heard of the task's pull request (a webhook)."""

    number: int
    state: str  # open | closed | merged
    url: str = ""
