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
import subprocess
import tempfile
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


class ObjectWriter:
    """Hashes git objects in memory and writes them as loose objects of one bare repo."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def _add(self, kind: str, content: bytes) -> str:
        raw = f"{kind} {len(content)}\0".encode() + content
        sha = hashlib.sha1(raw).hexdigest()
        self.objects[sha] = raw
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

    def write_to(self, repo: Path) -> None:
        for sha, raw in self.objects.items():
            directory = repo / "objects" / sha[:2]
            directory.mkdir(exist_ok=True)
            # level 1: these objects are tiny and we write thousands of them.
            (directory / sha[2:]).write_bytes(zlib.compress(raw, 1))


def init_bare_repo(path: Path, default_branch: str, description: str) -> None:
    """Lay out a bare repository by hand (same files `git init --bare` writes that matter)."""
    if path.exists():
        raise GitError(f"repository already exists: {path}")
    for sub in ("objects/info", "objects/pack", "refs/heads", "refs/tags", "info"):
        (path / sub).mkdir(parents=True)
    (path / "HEAD").write_text(f"ref: refs/heads/{default_branch}\n")
    (path / "config").write_text(_BARE_CONFIG)
    (path / "description").write_text(description + "\n")


def write_refs(path: Path, refs: dict[str, str]) -> None:
    for branch, sha in refs.items():
        ref = path / "refs" / "heads" / branch
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_text(sha + "\n")


def _git(repo: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> str:
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


class GitStore:
    """All bare repositories of the emulator, under `root/{owner}/{name}.git`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, owner: str, name: str) -> Path:
        return self.root / owner / f"{name}.git"

    def exists(self, owner: str, name: str) -> bool:
        return (self.path(owner, name) / "HEAD").is_file()

    def create(
        self,
        owner: str,
        name: str,
        default_branch: str,
        writer: ObjectWriter,
        refs: dict[str, str],
    ) -> None:
        path = self.path(owner, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        init_bare_repo(path, default_branch, f"{owner}/{name}")
        writer.write_to(path)
        write_refs(path, refs)

    def delete(self, owner: str, name: str) -> None:
        shutil.rmtree(self.path(owner, name))

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
        _git(self.path(owner, name), "fast-import", "--quiet", stdin=payload)
        return _git(self.path(owner, name), "rev-parse", f"refs/heads/{branch}").strip()

    def merge(
        self, owner: str, name: str, base: str, base_sha: str, head_sha: str, message: str, sig: Signature
    ) -> str:
        """A real merge commit of head into base; raises GitError on conflicts."""
        repo = self.path(owner, name)
        tree = _git(repo, "merge-tree", "--write-tree", base_sha, head_sha).splitlines()[0].strip()
        sha = _git(
            repo, "commit-tree", tree, "-p", base_sha, "-p", head_sha, "-m", message, env=_sig_env(sig)
        ).strip()
        self.update_ref(owner, name, base, sha, base_sha)
        return sha

    def is_ancestor(self, owner: str, name: str, ancestor: str, descendant: str) -> bool:
        proc = subprocess.run(
            ["git", "--git-dir", str(self.path(owner, name)), "merge-base", "--is-ancestor",
             ancestor, descendant],
            capture_output=True,
            check=False,
        )  # fmt: skip
        if proc.returncode not in (0, 1):
            raise GitError(f"git merge-base failed: {proc.stderr.decode()}")
        return proc.returncode == 0

    def commits_between(self, owner: str, name: str, before: str | None, after: str) -> list[CommitInfo]:
        """Commits reachable from `after` but not `before`, oldest first (at most 20, as GitHub).

        With `before=None` (a new branch) only the head commit is returned.
        """
        rev_range = [after, "-n", "1"] if before is None else [after, f"^{before}", "-n", "20"]
        sep = "\x1f"
        fmt = sep.join(["%H", "%T", "%P", "%an", "%ae", "%at", "%cn", "%ce", "%ct", "%B"]) + "\x1e"
        out = _git(self.path(owner, name), "log", f"--format={fmt}", *rev_range, "--")
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
