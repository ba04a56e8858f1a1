"""Payloads of the user actor's commands."""

from __future__ import annotations

from pydantic import BaseModel, Field

from users.feed_models import NotificationKind
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


class BumpTaskIn(BaseModel):
    """Something about the task drew the person's attention now."""

    org: str
    task_id: str
    reason: str = Field(default="", max_length=40)


class NotifyIn(BumpTaskIn):
    """A notification for the person (the task's owner), once per
    ``event_key``; it also bumps the task."""

    session_id: str = ""
    kind: NotificationKind
    message: str = Field(default="", max_length=500)
    event_key: str = Field(min_length=1, max_length=200)


class MarkReadIn(BaseModel):
    """A session read up to ``up_to_seq`` (its last event when None) with its
    task's notifications; or the notifications ``ids``; or ``everything``."""

    org: str = ""
    task_id: str = ""
    session_id: str = ""
    up_to_seq: int | None = Field(default=None, ge=0)
    ids: list[int] = Field(default_factory=list, max_length=500)
    everything: bool = False


class DraftIn(BaseModel):
    org: str
    task_id: str
    session_id: str
    text: str = Field(default="", max_length=100_000)
