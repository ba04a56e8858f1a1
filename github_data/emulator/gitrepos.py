"""Real bare git repositories behind the emulated GitHub.

The initial history is written as loose objects straight from Python: the commits use fixed
author/committer dates, so every sha is known before anything touches the disk and the API
can report exactly what `git clone` will later see. Creating 160 repositories × 10 branches
this way takes well under a second, where one `git commit` subprocess per branch would take
tens of seconds. Later mutations (a push from the API, a merge, a branch created or deleted)
go through git's own plumbing so they compose with whatever history HTTP pushes have added.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
import threading
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_BARE_CONFIG = """[core]
\trepositoryformatversion = 0
\tfilemode = true
\tbare = true
[http]
\treceivepack = true
\tuploadpack = true
[receive]
\tdenyDeleteCurrent = warn
[gc]
\tauto = 0
"""


class GitError(RuntimeError):
    """A git subprocess failed; the message carries its stderr."""


@dataclass(frozen=True)
class Signature:
    name: str
    email: str
    when: datetime

    def git_format(self) -> str:
        return f"{self.name} <{self.email}> {int(self.when.timestamp())} +0000"


@dataclass(frozen=True)
class CommitInfo:
    """What a push webhook needs to know about one commit."""

    sha: str
    tree: str
    message: str
    author: Signature
    committer: Signature
    parents: tuple[str, ...] = ()


_PACK_TYPES = {"commit": 1, "tree": 2, "blob": 3}


class ObjectWriter:
    """Hashes git objects in memory and writes them as one packfile of a bare repo.

    One pack + index + packed-refs instead of thousands of loose objects and ref files:
    on a busy disk each file creation costs about a millisecond, so the file count is what
    decides how long 160 repositories take.
    """

    def __init__(self) -> None:
        self.objects: dict[str, tuple[str, bytes]] = {}

    def _add(self, kind: str, content: bytes) -> str:
        sha = hashlib.sha1(f"{kind} {len(content)}\0".encode() + content).hexdigest()
        self.objects[sha] = (kind, content)
        return sha

    def blob(self, content: str) -> str:
        return self._add("blob", content.encode())

    def tree(self, files: dict[str, str]) -> str:
        """A flat tree of regular files (name → blob sha)."""
        entries = b"".join(
            b"100644 " + name.encode() + b"\0" + bytes.fromhex(sha)
            for name, sha in sorted(files.items(), key=lambda item: item[0].encode())
        )
        return self._add("tree", entries)

    def commit(self, tree: str, parents: list[str], sig: Signature, message: str) -> str:
        lines = [f"tree {tree}", *(f"parent {p}" for p in parents)]
        lines += [f"author {sig.git_format()}", f"committer {sig.git_format()}", "", message]
        return self._add("commit", ("\n".join(lines) + "\n").encode())

    def write_pack(self, pack_dir: Path) -> None:
        """Write `pack-<sha>.pack` and its version-2 `.idx` (formats: git's pack-format.txt)."""
        body = bytearray(b"PACK" + struct.pack(">II", 2, len(self.objects)))
        entries: list[tuple[bytes, int, int]] = []  # (sha, crc32, offset)
        for sha, (kind, content) in self.objects.items():
            offset = len(body)
            size = len(content)
            header = bytearray([(_PACK_TYPES[kind] << 4) | (size & 0x0F)])
            size >>= 4
            while size:
                header[-1] |= 0x80
                header.append(size & 0x7F)
                size >>= 7
            packed = bytes(header) + zlib.compress(content, 1)
            body += packed
            entries.append((bytes.fromhex(sha), zlib.crc32(packed), offset))
        pack_sha = hashlib.sha1(body).digest()
        body += pack_sha
        entries.sort()
        fanout = [0] * 256
        for raw_sha, _, _ in entries:
            fanout[raw_sha[0]] += 1
        for i in range(1, 256):
            fanout[i] += fanout[i - 1]
        idx = bytearray(b"\xfftOc" + struct.pack(">I", 2))
        idx += struct.pack(">256I", *fanout)
        idx += b"".join(e[0] for e in entries)
        idx += b"".join(struct.pack(">I", e[1]) for e in entries)
        idx += b"".join(struct.pack(">I", e[2]) for e in entries)
        idx += pack_sha
        idx += hashlib.sha1(idx).digest()
        stem = pack_dir / f"pack-{pack_sha.hex()}"
        stem.with_suffix(".pack").write_bytes(body)
        stem.with_suffix(".idx").write_bytes(idx)


def init_bare_repo(path: Path, default_branch: str, refs: dict[str, str]) -> None:
    """Lay out a bare repository by hand: what `git init --bare` writes that git needs."""
    if path.exists():
        raise GitError(f"repository already exists: {path}")
    (path / "objects" / "pack").mkdir(parents=True)
    (path / "refs").mkdir()
    (path / "HEAD").write_text(f"ref: refs/heads/{default_branch}\n")
    (path / "config").write_text(_BARE_CONFIG)
    lines = ["# pack-refs with: peeled fully-peeled sorted"]
    lines += [
        f"{sha} refs/heads/{branch}"
        for branch, sha in sorted(refs.items(), key=lambda i: i[0].encode())
    ]
    (path / "packed-refs").write_text("\n".join(lines) + "\n")


def _git(
    repo: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> str:
    full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})}
    proc = subprocess.run(
        ["git", "--git-dir", str(repo), *args],
        input=stdin,
        capture_output=True,
        env=full_env,
        check=False,
    )
    if proc.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode()}")
    return proc.stdout.decode()


def _sig_env(sig: Signature) -> dict[str, str]:
    date = f"{int(sig.when.timestamp())} +0000"
    return {
        "GIT_AUTHOR_NAME": sig.name,
        "GIT_AUTHOR_EMAIL": sig.email,
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_NAME": sig.name,
        "GIT_COMMITTER_EMAIL": sig.email,
        "GIT_COMMITTER_DATE": date,
    }


@dataclass(frozen=True)
class _Pending:
    """A repository known in memory, not yet written to disk."""

    default_branch: str
    writer: ObjectWriter
    refs: dict[str, str]
    alternate: tuple[str, str] | None


class GitStore:
    """All bare repositories of the emulator, under `root/{owner}/{name}.git`.

    A repository is written to disk on first use (clone, push, any git plumbing), not at
    start: its shas are known from memory already, so nothing can tell the difference, and
    a 160-repository organization starts without touching the disk.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        # Re-entrant: writing a fork writes its parent first, under the same lock.
        self._lock = threading.RLock()
        self._pending: dict[tuple[str, str], _Pending] = {}

    def path(self, owner: str, name: str) -> Path:
        """The repository's directory, written to disk first if it was still pending."""
        self.materialize(owner, name)
        return self.root / owner / f"{name}.git"

    def exists(self, owner: str, name: str) -> bool:
        with self._lock:
            if (owner, name) in self._pending:
                return True
        return (self.root / owner / f"{name}.git" / "HEAD").is_file()

    def create(
        self,
        owner: str,
        name: str,
        default_branch: str,
        writer: ObjectWriter,
        refs: dict[str, str],
        alternate: tuple[str, str] | None = None,
    ) -> None:
        """`alternate`: the (owner, name) of a repository whose objects this one borrows
        (a fork's parent); `writer` then holds only the objects it adds."""
        if self.exists(owner, name):
            raise GitError(f"repository already exists: {owner}/{name}")
        with self._lock:
            self._pending[(owner, name)] = _Pending(default_branch, writer, dict(refs), alternate)

    def materialize(self, owner: str, name: str) -> None:
        with self._lock:
            pending = self._pending.pop((owner, name), None)
            if pending is None:
                return
            path = self.root / owner / f"{name}.git"
            path.parent.mkdir(parents=True, exist_ok=True)
            init_bare_repo(path, pending.default_branch, pending.refs)
            pending.writer.write_pack(path / "objects" / "pack")
            if pending.alternate is not None:
                borrowed = self.path(*pending.alternate) / "objects"
                (path / "objects" / "info").mkdir(exist_ok=True)
                (path / "objects" / "info" / "alternates").write_text(f"{borrowed.resolve()}\n")

    def materialize_all(self) -> None:
        with self._lock:
            keys = list(self._pending)
        for owner, name in keys:
            self.materialize(owner, name)

    def delete(self, owner: str, name: str) -> None:
        with self._lock:
            if self._pending.pop((owner, name), None) is not None:
                return
        shutil.rmtree(self.root / owner / f"{name}.git")

    def list_branches(self, owner: str, name: str) -> dict[str, str]:
        out = _git(
            self.path(owner, name),
            "for-each-ref",
            "--format=%(refname:strip=2) %(objectname)",
            "refs/heads",
        )
        refs: dict[str, str] = {}
        for line in out.splitlines():
            branch, sha = line.rsplit(" ", 1)
            refs[branch] = sha
        return refs

    def update_ref(self, owner: str, name: str, branch: str, new: str, old: str | None) -> None:
        """Compare-and-swap a branch (old=None: the branch must not exist yet)."""
        expected = old if old is not None else "0" * 40
        _git(self.path(owner, name), "update-ref", f"refs/heads/{branch}", new, expected)

    def fetch(self, owner: str, name: str, source: tuple[str, str], ref: str, into: str) -> None:
        """Copy `ref` of the repository `source` (owner, name) and its objects into
        `into` of this one (a fork's branch into the parent's `refs/pull/N/head`)."""
        _git(
            self.path(owner, name),
            "fetch",
            "--quiet",
            "--no-tags",
            str(self.path(*source)),
            f"+{ref}:{into}",
        )

    def delete_ref(self, owner: str, name: str, branch: str, old: str) -> None:
        _git(self.path(owner, name), "update-ref", "-d", f"refs/heads/{branch}", old)

    def commit_files(
        self,
        owner: str,
        name: str,
        branch: str,
        parent: str,
        files: dict[str, str],
        message: str,
        sig: Signature,
    ) -> str:
        """Commit `files` on top of `parent` and move the branch there (one fast-import run)."""
        if not files:
            raise ValueError("a commit needs at least one file")
        repo = self.path(owner, name)
        stream = [
            f"commit refs/heads/{branch}",
            f"author {sig.git_format()}",
            f"committer {sig.git_format()}",
            f"data {len(message.encode())}",
            message,
            f"from {parent}",
        ]
        for file_path, content in files.items():
            stream += ["M 100644 inline " + file_path, f"data {len(content.encode())}", content]
        payload = ("\n".join(stream) + "\n").encode()
        _git(repo, "fast-import", "--quiet", stdin=payload)
        return _git(repo, "rev-parse", f"refs/heads/{branch}").strip()

    def merge(
        self,
        owner: str,
        name: str,
        base: str,
        base_sha: str,
        head_sha: str,
        message: str,
        sig: Signature,
    ) -> str:
        """A real merge commit of head into base; raises GitError on conflicts."""
        repo = self.path(owner, name)
        tree = _git(repo, "merge-tree", "--write-tree", base_sha, head_sha).splitlines()[0].strip()
        sha = _git(
            repo,
            "commit-tree",
            tree,
            "-p",
            base_sha,
            "-p",
            head_sha,
            "-m",
            message,
            env=_sig_env(sig),
        ).strip()
        self.update_ref(owner, name, base, sha, base_sha)
        return sha

    def is_ancestor(self, owner: str, name: str, ancestor: str, descendant: str) -> bool:
        proc = subprocess.run(
            [
                "git",
                "--git-dir",
                str(self.path(owner, name)),
                "merge-base",
                "--is-ancestor",
                ancestor,
                descendant,
            ],
            capture_output=True,
            check=False,
        )
        if proc.returncode not in (0, 1):
            raise GitError(f"git merge-base failed: {proc.stderr.decode()}")
        return proc.returncode == 0

    def commits_between(
        self, owner: str, name: str, before: str | None, after: str
    ) -> list[CommitInfo]:
        """Commits reachable from `after` but not `before`, oldest first (at most 20, as GitHub).

        With `before=None` (a new branch) only the head commit is returned.
        """
        repo = self.path(owner, name)
        if before is None:
            return log(repo, after, limit=1)
        return log(repo, after, f"^{before}", limit=20)


_LOG_FIELDS = ["%H", "%T", "%P", "%an", "%ae", "%at", "%cn", "%ce", "%ct", "%B"]


def log(repo: Path, *revisions: str, limit: int | None = None) -> list[CommitInfo]:
    """Commits of `git log REVISIONS` (the newest `limit` of them), oldest first."""
    sep = "\x1f"
    fmt = sep.join(_LOG_FIELDS) + "\x1e"
    limit_args = ["-n", str(limit)] if limit is not None else []
    out = _git(repo, "log", f"--format={fmt}", *limit_args, *revisions, "--")
    commits: list[CommitInfo] = []
    for record in out.split("\x1e"):
        record = record.strip("\n")
        if not record:
            continue
        sha, tree, parents, an, ae, at, cn, ce, ct, body = record.split(sep, 9)
        commits.append(
            CommitInfo(
                sha=sha,
                tree=tree,
                message=body.strip(),
                author=Signature(an, ae, datetime.fromtimestamp(int(at), UTC)),
                committer=Signature(cn, ce, datetime.fromtimestamp(int(ct), UTC)),
                parents=tuple(parents.split()),
            )
        )
    commits.reverse()
    return commits


def make_temp_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="github-emulator-"))
