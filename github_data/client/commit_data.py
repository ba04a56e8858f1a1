"""Typed results of the commit and compare endpoints (see `data` for why not githubkit's models)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .data import parse_datetime


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class FileChangeData:
    filename: str
    status: str  # added | removed | modified | renamed | copied | changed | unchanged
    additions: int
    deletions: int
    patch: str | None  # None for binary files and very large diffs
    previous_filename: str | None  # set for renamed files

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FileChangeData:
        return cls(
            filename=str(data["filename"]),
            status=str(data["status"]),
            additions=int(data.get("additions") or 0),
            deletions=int(data.get("deletions") or 0),
            patch=data.get("patch"),
            previous_filename=data.get("previous_filename"),
        )


@dataclass(frozen=True)
class CommitData:
    sha: str
    message: str
    author_name: str
    author_email: str
    authored_at: datetime | None
    author_login: str | None  # None: no GitHub account has the commit's email
    parents: tuple[str, ...]
    html_url: str
    additions: int | None  # None where GitHub sends no stats (the commits of a comparison)
    deletions: int | None
    files: tuple[FileChangeData, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CommitData:
        commit = _mapping(data, "commit")
        author = _mapping(commit, "author")
        stats = data.get("stats")
        return cls(
            sha=str(data["sha"]),
            message=str(commit.get("message") or ""),
            author_name=str(author.get("name") or ""),
            author_email=str(author.get("email") or ""),
            authored_at=parse_datetime(author.get("date")),
            author_login=_mapping(data, "author").get("login"),
            parents=tuple(str(p["sha"]) for p in data.get("parents") or []),
            html_url=str(data.get("html_url") or ""),
            additions=int(stats.get("additions") or 0) if isinstance(stats, Mapping) else None,
            deletions=int(stats.get("deletions") or 0) if isinstance(stats, Mapping) else None,
            files=tuple(FileChangeData.from_json(f) for f in data.get("files") or []),
        )


@dataclass(frozen=True)
class ComparisonData:
    """How head relates to base: `ahead_by` commits in head not in base, `behind_by` in
    base not in head, counted over the whole history; `commits` lists at most the 250
    most recent of head's commits, oldest first (GitHub's limit without paging)."""

    status: str  # ahead | behind | identical | diverged
    ahead_by: int
    behind_by: int
    total_commits: int
    base_sha: str
    merge_base_sha: str
    commits: tuple[CommitData, ...]
    files: tuple[FileChangeData, ...]  # base's merge base → head, at most 300

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ComparisonData:
        return cls(
            status=str(data["status"]),
            ahead_by=int(data["ahead_by"]),
            behind_by=int(data["behind_by"]),
            total_commits=int(data["total_commits"]),
            base_sha=str(_mapping(data, "base_commit").get("sha") or ""),
            merge_base_sha=str(_mapping(data, "merge_base_commit").get("sha") or ""),
            commits=tuple(CommitData.from_json(c) for c in data.get("commits") or []),
            files=tuple(FileChangeData.from_json(f) for f in data.get("files") or []),
        )
