"""JSON shapes of commits, changed files and comparisons (see `shapes`).

A commit's `author`/`committer` is the GitHub account whose email the commit carries, as
GitHub links them, or null when no account has that email.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .githistory import FileChange
from .gitrepos import CommitInfo, Signature
from .models import Organization, Repository, User
from .shapes import Json, iso, node_id, simple_user

# What GitHub says of a commit without a signature.
UNSIGNED = {
    "verified": False,
    "reason": "unsigned",
    "signature": None,
    "payload": None,
    "verified_at": None,
}


@dataclass(frozen=True)
class Comparison:
    """Two commits of one repository as `GET .../compare/{basehead}` reports them."""

    basehead: str
    base: CommitInfo
    head_sha: str
    merge_base: CommitInfo
    ahead_by: int
    behind_by: int
    commits: list[CommitInfo]  # the page asked for, oldest first
    files: list[FileChange] | None  # None: not on this page

    @property
    def status(self) -> str:
        if self.ahead_by and self.behind_by:
            return "diverged"
        if self.ahead_by:
            return "ahead"
        return "behind" if self.behind_by else "identical"


class People:
    """The dataset's accounts by email, to link commits to them."""

    def __init__(self, base: str, users: dict[str, User]) -> None:
        self.base = base
        self._by_email = {u.email.lower(): u for u in users.values()}

    def account(self, sig: Signature) -> Json | None:
        user = self._by_email.get(sig.email.lower())
        return simple_user(self.base, user.login, user.id, user.type) if user else None


def _urls(base: str, org: Organization, r: Repository) -> tuple[str, str]:
    return f"{base}/repos/{org.login}/{r.name}", f"{base}/{org.login}/{r.name}"


def commit(
    base: str, org: Organization, people: People, r: Repository, info: CommitInfo
) -> Json:
    api, html = _urls(base, org, r)

    def person(sig: Signature) -> Json:
        return {"name": sig.name, "email": sig.email, "date": iso(sig.when)}

    return {
        "sha": info.sha,
        "node_id": node_id("C", int(info.sha[:12], 16)),
        "url": f"{api}/commits/{info.sha}",
        "html_url": f"{html}/commit/{info.sha}",
        "comments_url": f"{api}/commits/{info.sha}/comments",
        "commit": {
            "url": f"{api}/git/commits/{info.sha}",
            "author": person(info.author),
            "committer": person(info.committer),
            "message": info.message,
            "comment_count": 0,
            "tree": {"sha": info.tree, "url": f"{api}/git/trees/{info.tree}"},
            "verification": dict(UNSIGNED),
        },
        "author": people.account(info.author),
        "committer": people.account(info.committer),
        "parents": [
            {"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{html}/commit/{p}"}
            for p in info.parents
        ],
    }


def diff_entry(base: str, org: Organization, r: Repository, ref: str, f: FileChange) -> Json:
    api, html = _urls(base, org, r)
    path = quote(f.filename)
    entry: dict[str, Any] = {
        "sha": f.sha,
        "filename": f.filename,
        "status": f.status,
        "additions": f.additions,
        "deletions": f.deletions,
        "changes": f.additions + f.deletions,
        "blob_url": f"{html}/blob/{ref}/{path}",
        "raw_url": f"{html}/raw/{ref}/{path}",
        "contents_url": f"{api}/contents/{path}?ref={ref}",
    }
    if f.patch is not None:
        entry["patch"] = f.patch
    if f.previous_filename is not None:
        entry["previous_filename"] = f.previous_filename
    return entry


def commit_with_files(
    base: str,
    org: Organization,
    people: People,
    r: Repository,
    info: CommitInfo,
    files: list[FileChange],
) -> Json:
    """`GET .../commits/{ref}`: the commit, its stats and its files (against its first parent)."""
    additions = sum(f.additions for f in files)
    deletions = sum(f.deletions for f in files)
    return {
        **commit(base, org, people, r, info),
        "stats": {"additions": additions, "deletions": deletions, "total": additions + deletions},
        "files": [diff_entry(base, org, r, info.sha, f) for f in files],
    }


def comparison(
    base: str, org: Organization, people: People, r: Repository, c: Comparison
) -> Json:
    api, html = _urls(base, org, r)
    data: Json = {
        "url": f"{api}/compare/{c.basehead}",
        "html_url": f"{html}/compare/{c.basehead}",
        "permalink_url": f"{html}/compare/{org.login}:{c.base.sha}...{org.login}:{c.head_sha}",
        "diff_url": f"{html}/compare/{c.basehead}.diff",
        "patch_url": f"{html}/compare/{c.basehead}.patch",
        "base_commit": commit(base, org, people, r, c.base),
        "merge_base_commit": commit(base, org, people, r, c.merge_base),
        "status": c.status,
        "ahead_by": c.ahead_by,
        "behind_by": c.behind_by,
        "total_commits": c.ahead_by,
        "commits": [commit(base, org, people, r, info) for info in c.commits],
    }
    if c.files is not None:
        data["files"] = [diff_entry(base, org, r, c.head_sha, f) for f in c.files]
    return data
