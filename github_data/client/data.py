"""What Foundry keeps of GitHub's answers, as frozen dataclasses.

Built from the raw JSON rather than githubkit's pydantic models on purpose: we keep a
dozen fields of objects with a hundred, and one field GitHub sends as null where the
schema says otherwise would fail a whole 160-repository sync in model validation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


def parse_datetime(value: Any) -> datetime | None:
    """GitHub's ISO 8601 timestamps (`2024-01-01T00:00:00Z`) as aware datetimes."""
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _required_datetime(value: Any, what: str) -> datetime:
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"GitHub sent no {what}")
    return parsed


def _account(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """A nested account object; `user` is null for deleted ("ghost") accounts."""
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class RepoData:
    id: int
    node_id: str
    name: str
    full_name: str
    owner_login: str
    default_branch: str
    private: bool
    html_url: str
    clone_url: str
    updated_at: datetime | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RepoData:
        return cls(
            id=int(data["id"]),
            node_id=str(data.get("node_id") or ""),
            name=str(data["name"]),
            full_name=str(data["full_name"]),
            owner_login=str(_account(data, "owner").get("login") or ""),
            default_branch=str(data.get("default_branch") or "main"),
            private=bool(data.get("private", False)),
            html_url=str(data.get("html_url") or ""),
            clone_url=str(data.get("clone_url") or ""),
            updated_at=parse_datetime(data.get("updated_at")),
        )


@dataclass(frozen=True)
class BranchData:
    name: str
    sha: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BranchData:
        return cls(name=str(data["name"]), sha=str(_account(data, "commit").get("sha") or ""))


@dataclass(frozen=True)
class MemberData:
    id: int
    login: str
    avatar_url: str
    type: str  # "User" | "Bot" | "Organization"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MemberData:
        return cls(
            id=int(data["id"]),
            login=str(data["login"]),
            avatar_url=str(data.get("avatar_url") or ""),
            type=str(data.get("type") or "User"),
        )


@dataclass(frozen=True)
class PullRequestData:
    id: int
    number: int
    title: str
    state: str  # "open" | "closed"
    draft: bool
    head_ref: str
    head_sha: str
    base_ref: str
    author_login: str | None  # None: the author's account was deleted
    author_id: int | None
    author_avatar_url: str | None
    html_url: str
    created_at: datetime
    updated_at: datetime
    merged_at: datetime | None
    closed_at: datetime | None
    # The repository the head branch lives in: the base repository, or a fork
    # (id None: GitHub sends `head.repo: null` once a fork is deleted).
    head_repo_id: int | None
    head_repo_full_name: str
    head_repo_fork: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PullRequestData:
        head, base, user = _account(data, "head"), _account(data, "base"), _account(data, "user")
        head_repo = _account(head, "repo")
        author_id = user.get("id")
        return cls(
            id=int(data["id"]),
            number=int(data["number"]),
            title=str(data.get("title") or ""),
            state=str(data["state"]),
            draft=bool(data.get("draft") or False),
            head_ref=str(head.get("ref") or ""),
            head_sha=str(head.get("sha") or ""),
            base_ref=str(base.get("ref") or ""),
            author_login=user.get("login"),
            author_id=int(author_id) if author_id is not None else None,
            author_avatar_url=user.get("avatar_url"),
            html_url=str(data.get("html_url") or ""),
            created_at=_required_datetime(data.get("created_at"), "created_at"),
            updated_at=_required_datetime(data.get("updated_at"), "updated_at"),
            merged_at=parse_datetime(data.get("merged_at")),
            closed_at=parse_datetime(data.get("closed_at")),
            head_repo_id=int(head_repo["id"]) if head_repo.get("id") is not None else None,
            head_repo_full_name=str(head_repo.get("full_name") or ""),
            # Only a fork can disappear under its open pull request.
            head_repo_fork=bool(head_repo.get("fork")) if head_repo else True,
        )
