"""Read-only questions to a bare repository: which commit a sha names, how two commits
relate (merge base, ahead/behind) and which files changed between them (history itself
is `gitrepos.log`).

Everything is answered by real git (`rev-parse`, `merge-base`, `rev-list`, `diff`) on
the repository `gitrepos.GitStore` keeps, so the API's compare and commit endpoints
report what `git clone` would show. Refs are restricted to what GitHub's
endpoints take here: a branch name (resolved by the caller) or a hex sha.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .gitrepos import GitError

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's well-known empty tree
_HEX_SHA = re.compile(r"[0-9a-fA-F]{4,40}")
_STATUS = {
    "A": "added",
    "D": "removed",
    "M": "modified",
    "R": "renamed",
    "C": "copied",
    "T": "changed",
}


@dataclass(frozen=True)
class FileChange:
    """One file of a diff, with what GitHub's `diff-entry` reports."""

    filename: str
    status: str  # added | removed | modified | renamed | copied | changed
    sha: str | None  # the blob after the change; None when removed
    additions: int
    deletions: int
    patch: str | None  # the hunks only (from the first `@@`); None for binary files
    previous_filename: str | None = None


def _run(repo: Path, *args: str, ok_codes: tuple[int, ...] = (0,)) -> tuple[int, str]:
    proc = subprocess.run(
        ["git", "--git-dir", str(repo), *args], capture_output=True, check=False
    )
    if proc.returncode not in ok_codes:
        raise GitError(
            f"git {' '.join(args)} failed ({proc.returncode}) in {repo}: "
            f"{proc.stderr.decode(errors='replace').strip()}"
        )
    return proc.returncode, proc.stdout.decode(errors="replace")


def resolve_sha(repo: Path, candidate: str) -> str | None:
    """The full sha of the commit a hex sha (full or abbreviated) names, or None."""
    if not _HEX_SHA.fullmatch(candidate):
        return None
    code, out = _run(
        repo, "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}", ok_codes=(0, 1, 128)
    )
    return out.strip() if code == 0 else None


def merge_base(repo: Path, a: str, b: str) -> str | None:
    """The best common ancestor of two commits, or None when their histories are unrelated."""
    code, out = _run(repo, "merge-base", a, b, ok_codes=(0, 1))
    return out.strip() if code == 0 else None


def ahead_behind(repo: Path, base: str, head: str) -> tuple[int, int]:
    """(commits in head not in base, commits in base not in head)."""
    _, out = _run(repo, "rev-list", "--left-right", "--count", f"{base}...{head}")
    behind, ahead = out.split()
    return int(ahead), int(behind)


def diff(repo: Path, old: str | None, new: str) -> list[FileChange]:
    """The files that differ from `old` (None: the empty tree) to `new`, renames found."""
    old = old or EMPTY_TREE
    _, raw = _run(repo, "diff", "--raw", "-z", "-M", "--abbrev=40", old, new)
    _, numstat = _run(repo, "diff", "--numstat", "-z", "-M", old, new)
    _, patch = _run(repo, "diff", "-M", "--no-color", "--no-ext-diff", old, new)
    counts = _parse_numstat(numstat)
    patches = _split_patches(patch)
    changes: list[FileChange] = []
    fields = raw.split("\0")
    i = 0
    while i < len(fields) - 1:
        meta = fields[i].split()
        letter = meta[4][0]
        if letter in ("R", "C"):
            previous, filename = fields[i + 1], fields[i + 2]
            i += 3
        else:
            previous, filename = None, fields[i + 1]
            i += 2
        additions, deletions = counts.get(filename, (0, 0))
        changes.append(
            FileChange(
                filename=filename,
                status=_STATUS.get(letter, "modified"),
                sha=None if letter == "D" else meta[3],
                additions=additions,
                deletions=deletions,
                patch=patches[len(changes)] if len(changes) < len(patches) else None,
                previous_filename=previous,
            )
        )
    return changes


def _parse_numstat(out: str) -> dict[str, tuple[int, int]]:
    """`--numstat -z`: `add\\tdel\\tpath\\0`, or for renames `add\\tdel\\t\\0old\\0new\\0`;
    binary files count `-`."""
    counts: dict[str, tuple[int, int]] = {}
    fields = out.split("\0")
    i = 0
    while i < len(fields) - 1:
        added, deleted, path = fields[i].split("\t", 2)
        if path == "":  # a rename: the old and new paths follow
            path = fields[i + 2]
            i += 3
        else:
            i += 1
        counts[path] = (
            int(added) if added != "-" else 0,
            int(deleted) if deleted != "-" else 0,
        )
    return counts


def _split_patches(out: str) -> list[str | None]:
    """One patch per file, in `git diff` order, cut down to the hunks as GitHub sends them."""
    patches: list[str | None] = []
    for section in re.split(r"^diff --git ", out, flags=re.MULTILINE)[1:]:
        start = section.find("\n@@")
        patches.append(section[start + 1 :].rstrip("\n") if start >= 0 else None)
    return patches
