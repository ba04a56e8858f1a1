"""Git state of a task's branch, computed in its sandbox.

Every git command runs inside the sandbox through sandbox-agent's process
API (``POST /v1/processes/run``), never on the web server: the changed
files with M/A/D and +/- lines (``git status --porcelain=v1 -uall``,
``git diff --numstat HEAD``; an untracked file is counted against
``/dev/null``), a file's diff, ahead/behind the base branch, and reverting
a file. Renames are reported as a deletion and an addition (``--no-renames``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandboxes.process_client import ProcessClient, RunResult
from tasks.errors import GitCommandFailed

GIT_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class FileChange:
    path: str
    status: str  # M | A | D
    added: int
    removed: int


@dataclass(frozen=True)
class GitState:
    branch: str
    base_branch: str
    ahead: int  # commits on the branch not on the base
    behind: int  # commits on the base not on the branch
    files: list[FileChange] = field(default_factory=list)

    @property
    def lines_added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def lines_removed(self) -> int:
        return sum(f.removed for f in self.files)


def git(proc: ProcessClient, repo: str, *args: str, ok: tuple[int, ...] = (0,),
        env: dict[str, str] | None = None) -> RunResult:
    """Run ``git args`` in the sandbox's repository; GitCommandFailed when
    its exit code is not one of ``ok``."""
    result = proc.run("git", list(args), cwd=repo, env=env, timeout=GIT_TIMEOUT_SECONDS)
    if result.timed_out or result.exit_code not in ok:
        why = "timed out" if result.timed_out else f"exited {result.exit_code}"
        raise GitCommandFailed(
            f"git {' '.join(args)} in {repo} {why}: {result.stderr.strip()[:500]}"
        )
    return result


def _status_letter(code: str) -> str:
    if code == "??" or "A" in code:
        return "A"
    if "D" in code:
        return "D"
    return "M"


def _counts(numstat: str) -> dict[str, tuple[int, int]]:
    counts: dict[str, tuple[int, int]] = {}
    for line in numstat.splitlines():
        parts = line.split("\t", 2)
        if len(parts) != 3:
            continue
        added, removed, path = parts
        # A binary file shows "-": no lines to count.
        counts[path] = (int(added) if added.isdigit() else 0,
                        int(removed) if removed.isdigit() else 0)
    return counts


def changed_files(proc: ProcessClient, repo: str) -> list[FileChange]:
    status = git(proc, repo, "status", "--porcelain=v1", "-uall", "--no-renames").stdout
    entries = [(line[:2], line[3:]) for line in status.splitlines() if len(line) > 3]
    if not entries:
        return []
    counts = _counts(git(proc, repo, "diff", "--numstat", "--no-renames", "HEAD").stdout)
    files = []
    for code, path in entries:
        path = path.strip('"')
        if code == "??":
            # Exit code 1: the files differ, which they always do here.
            out = git(proc, repo, "diff", "--no-index", "--numstat", "--", "/dev/null", path,
                      ok=(0, 1)).stdout
            added, removed = next(iter(_counts(out).values()), (0, 0))
        else:
            added, removed = counts.get(path, (0, 0))
        files.append(FileChange(path, _status_letter(code), added, removed))
    return sorted(files, key=lambda f: f.path)


def ahead_behind(proc: ProcessClient, repo: str, base_branch: str) -> tuple[int, int]:
    """(ahead, behind) of HEAD against ``origin/<base>``; (0, 0) when the
    sandbox has no such remote branch."""
    base = f"origin/{base_branch}"
    known = git(proc, repo, "rev-parse", "--verify", "--quiet", base, ok=(0, 1))
    if known.exit_code != 0:
        return 0, 0
    out = git(proc, repo, "rev-list", "--left-right", "--count", f"{base}...HEAD").stdout
    behind, ahead = (int(n) for n in out.split())
    return ahead, behind


def git_state(proc: ProcessClient, repo: str, *, branch: str, base_branch: str) -> GitState:
    ahead, behind = ahead_behind(proc, repo, base_branch) if base_branch else (0, 0)
    return GitState(branch, base_branch, ahead, behind, changed_files(proc, repo))


def file_diff(proc: ProcessClient, repo: str, path: str) -> str:
    """The diff of one file against HEAD (an untracked file: all added)."""
    tracked = git(proc, repo, "ls-files", "--error-unmatch", "--", path, ok=(0, 1))
    if tracked.exit_code == 0:
        return git(proc, repo, "diff", "HEAD", "--", path).stdout
    return git(proc, repo, "diff", "--no-index", "--", "/dev/null", path, ok=(0, 1)).stdout


def revert_file(proc: ProcessClient, repo: str, path: str) -> None:
    """The file as HEAD has it; a file HEAD does not have is removed."""
    in_head = git(proc, repo, "cat-file", "-e", f"HEAD:{path}", ok=(0, 1, 128))
    if in_head.exit_code == 0:
        git(proc, repo, "checkout", "HEAD", "--", path)
        return
    git(proc, repo, "rm", "-q", "-f", "--cached", "--ignore-unmatch", "--", path)
    result = proc.run("rm", ["-f", "--", path], cwd=repo, timeout=GIT_TIMEOUT_SECONDS)
    if result.exit_code != 0:
        raise GitCommandFailed(f"rm -f {path} in {repo} failed: {result.stderr.strip()}")
