"""Payloads of the user actor's commands."""

from __future__ import annotations

from pydantic import BaseModel

from users.models import MembershipRole


class MembershipIn(BaseModel):
    org: str
    role: MembershipRole = MembershipRole.MEMBER


class SignInIn(BaseModel):
    """What GitHub said about the person at this sign-in: profile and the
    organizations they belong to (their personal account included)."""

    github_id: int | None = None
    login: str
    name: str = ""
    avatar_url: str = ""
    email: str = ""
    memberships: list[MembershipIn]


class MembershipChangeIn(BaseModel):
    """The member sync (or a member webhook) of one organization saw the
    person join or leave it."""

    org: str
    member: bool
    role: MembershipRole = MembershipRole.MEMBER
    source: str = "member sync"


class PreferencesIn(BaseModel):
    """Only the fields given change."""

    default_agent: str | None = None
    default_model: str | None = None
    last_org: str | None = None
    last_task: str | None = None
