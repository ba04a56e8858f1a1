"""Commits and comparisons: the emulator answers from its real git repositories, and the
client's typed calls read them over real HTTP (no mocks)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from github_data.client import GitHubClient, GitHubRequestError
from github_data.emulator import GitHubEmulator

MakeEmulator = Callable[..., GitHubEmulator]
MakeClient = Callable[..., GitHubClient]


def git(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def feature_branch(gh: GitHubEmulator, repo: str = "repo-001") -> str:
    """A generated branch without a pull request: one commit on top of main."""
    branches = gh.dataset.repo(repo).branches
    with_pulls = {pr.head for pr in gh.dataset.repo(repo).pulls.values()}
    return next(name for name in branches if name != "main" and name not in with_pulls)


def test_compare_follows_the_branches_through_pushes(
    make_emulator: MakeEmulator, make_client: MakeClient, tmp_path: Path
) -> None:
    """ahead → diverged → identical, with counts, merge base, commits and files from git."""
    gh = make_emulator(repos=1)
    client = make_client(gh)
    ds = gh.dataset
    branch = feature_branch(gh)
    main_sha, first = ds.branch("repo-001", "main").sha, ds.branch("repo-001", branch).sha

    ahead = client.compare_commits("acme", "repo-001", "main", branch)
    assert (ahead.status, ahead.ahead_by, ahead.behind_by, ahead.total_commits) == (
        "ahead", 1, 0, 1
    )
    assert (ahead.base_sha, ahead.merge_base_sha) == (main_sha, main_sha)
    assert [c.sha for c in ahead.commits] == [first]
    assert [(f.filename, f.status, f.additions, f.deletions) for f in ahead.files] == [
        (f"{branch}.md", "added", 3, 0)
    ]
    assert ahead.files[0].patch is not None and ahead.files[0].patch.startswith("@@ -0,0 +1,3 @@")

    second = ds.push("repo-001", branch, {"notes.txt": "one\n"}, "Second")
    third = ds.push("repo-001", branch, {"notes.txt": "one\ntwo\n"}, "Third")
    moved_main = ds.push("repo-001", "main", {"README.md": "# rewritten\n"}, "Main moves")

    diverged = client.compare_commits("acme", "repo-001", "main", branch)
    assert (diverged.status, diverged.ahead_by, diverged.behind_by) == ("diverged", 3, 1)
    assert [c.sha for c in diverged.commits] == [first, second, third]  # oldest first
    assert [c.message for c in diverged.commits] == [ahead.commits[0].message, "Second", "Third"]
    assert (diverged.base_sha, diverged.merge_base_sha) == (moved_main, main_sha)
    # Files are the head's changes since the merge base: main's README edit is not one.
    assert sorted(f.filename for f in diverged.files) == sorted([f"{branch}.md", "notes.txt"])

    backwards = client.compare_commits("acme", "repo-001", branch, "main")
    assert (backwards.status, backwards.ahead_by, backwards.behind_by) == ("diverged", 1, 3)
    behind = client.compare_commits("acme", "repo-001", "main", main_sha[:10])
    assert (behind.status, behind.ahead_by, behind.behind_by, behind.commits) == (
        "behind", 0, 1, ()
    )
    same = client.compare_commits("acme", "repo-001", f"acme:{branch}", third)
    assert (same.status, same.ahead_by, same.behind_by, same.files) == ("identical", 0, 0, ())

    # The same answers from a clone, with git's own commands.
    clone = tmp_path / "c"
    git("clone", "-q", gh.git_url("repo-001"), str(clone))
    counts = git("rev-list", "--left-right", "--count", f"origin/main...origin/{branch}", cwd=clone)
    assert counts.split() == ["1", "3"]
    assert git("merge-base", "origin/main", f"origin/{branch}", cwd=clone).strip() == main_sha


def test_compare_pages_commits_and_lists_files_on_the_first_page(
    make_emulator: MakeEmulator,
) -> None:
    gh = make_emulator(repos=1)
    branch = feature_branch(gh)
    for n in range(3):
        gh.dataset.push("repo-001", branch, {f"n{n}.txt": f"{n}\n"}, f"Commit {n}")
    token = gh.installation_token()
    with httpx.Client(base_url=gh.base_url, headers={"Authorization": f"token {token}"}) as api:
        url = f"/repos/acme/repo-001/compare/main...{branch}"
        whole = api.get(url).json()
        first = api.get(url, params={"per_page": 2})
        second = api.get(first.links["next"]["url"]).json()
    assert whole["total_commits"] == 4 and len(whole["commits"]) == 4
    assert [c["sha"] for c in first.json()["commits"] + second["commits"]] == [
        c["sha"] for c in whole["commits"]
    ]
    assert len(first.json()["files"]) == 4 and "files" not in second
    assert second["ahead_by"] == 4  # the counts cover the whole comparison on every page


def test_get_commit_by_branch_and_sha_with_files_and_stats(
    make_emulator: MakeEmulator, make_client: MakeClient, tmp_path: Path
) -> None:
    gh = make_emulator(repos=1)
    client = make_client(gh)
    ds = gh.dataset
    member = next(iter(ds.org.members))
    branch = feature_branch(gh)
    before = ds.branch("repo-001", branch).sha
    sha = ds.push(
        "repo-001",
        branch,
        {"README.md": "# repo-001\n\nRewritten.\n", "docs/guide.md": "Guide\n"},
        "Docs and readme",
        actor=member,
    )

    commit = client.get_commit("acme", "repo-001", branch)
    assert commit == client.get_commit("acme", "repo-001", sha[:12])
    assert (commit.sha, commit.message, commit.parents) == (sha, "Docs and readme", (before,))
    assert commit.author_login == member  # linked by the commit's email, as GitHub does
    assert commit.html_url == f"{gh.base_url}/acme/repo-001/commit/{sha}"
    changes = {f.filename: (f.status, f.additions, f.deletions) for f in commit.files}
    assert changes == {"README.md": ("modified", 1, 1), "docs/guide.md": ("added", 1, 0)}
    assert (commit.additions, commit.deletions) == (2, 1)

    # A rename pushed over HTTP with git itself.
    clone = tmp_path / "c"
    git("clone", "-q", "--branch", branch, gh.git_url("repo-001"), str(clone))
    git("mv", "docs/guide.md", "docs/manual.md", cwd=clone)
    identity = ["-c", "user.name=Dev", "-c", "user.email=dev@example.com"]
    git(*identity, "commit", "-qm", "Rename the guide", cwd=clone)
    git("push", "-q", "origin", f"HEAD:{branch}", cwd=clone)
    renamed = client.get_commit("acme", "repo-001", branch)
    assert renamed.sha == git("rev-parse", "HEAD", cwd=clone).strip()
    assert renamed.author_login is None  # no account has dev@example.com
    assert [(f.filename, f.status, f.previous_filename) for f in renamed.files] == [
        ("docs/manual.md", "renamed", "docs/guide.md")
    ]


def test_unknown_refs_answer_as_github(
    make_emulator: MakeEmulator, make_client: MakeClient
) -> None:
    gh = make_emulator(repos=1)
    client = make_client(gh)
    with pytest.raises(GitHubRequestError) as missing_commit:
        client.get_commit("acme", "repo-001", "no-such-branch")
    assert missing_commit.value.status == 422
    assert "No commit found for SHA: no-such-branch" in str(missing_commit.value)
    with pytest.raises(GitHubRequestError) as missing_side:
        client.compare_commits("acme", "repo-001", "main", "deadbeef")
    assert missing_side.value.status == 404
    with pytest.raises(GitHubRequestError) as other_owner:
        client.compare_commits("acme", "repo-001", "main", "someone-else:main")
    assert other_owner.value.status == 404
