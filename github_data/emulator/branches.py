"""Branch mutations of the dataset: pushes, new and deleted branches, HTTP pushes taken in.

A mixin of `Dataset`, kept apart for size. Each mutation changes the real git repository
first, then the records, and returns the events GitHub would send (push, create, delete,
pull_request synchronize/closed). A repository is named as `Dataset.repo` takes it, so
`login/name` reaches a fork: its pushes move the pull requests it heads in the parent.
"""

from __future__ import annotations

import copy
from dataclasses import replace

from .core import DatasetCore, now
from .models import Branch, Event, Repository, ValidationFailed

ZERO_SHA = "0" * 40


class BranchMutations(DatasetCore):
    def _move_branch(
        self,
        repo: Repository,
        branch: str,
        before: str,
        after: str,
        actor: str,
        created: bool = False,
    ) -> list[Event]:
        """Record a branch's new head; return the push event plus PR synchronize events."""
        repo.branches[branch] = replace(
            repo.branches.get(branch) or Branch(branch, after), sha=after
        )
        repo.pushed_at = repo.updated_at = now()
        owner = self.owner_login(repo)
        commits = self.git.commits_between(owner, repo.name, None if created else before, after)
        forced = not created and not self.git.is_ancestor(owner, repo.name, before, after)
        events = [
            Event(
                "push",
                None,
                actor,
                self._snapshot(repo),
                {
                    "ref": f"refs/heads/{branch}",
                    "before": before,
                    "after": after,
                    "created": created,
                    "deleted": False,
                    "forced": forced,
                    "commits": [] if created else commits,
                    "head_commit": commits[-1] if commits else None,
                },
            )
        ]
        for pr in repo.pulls.values():  # a fork has none: PRs live in the base repository
            if pr.state == "open" and pr.base == branch:
                pr.base_sha = after
        base = self.base_of(repo)
        for pr in self._pulls_headed_by(repo, branch):
            pr.head_sha, pr.updated_at = after, now()
            events.append(
                Event(
                    "pull_request",
                    "synchronize",
                    actor,
                    self._snapshot(base),
                    {"pull_request": copy.copy(pr), "before": before, "after": after},
                )
            )
        return events

    def push(
        self,
        repo_name: str,
        branch: str,
        files: dict[str, str] | None = None,
        message: str | None = None,
        actor: str | None = None,
    ) -> str:
        """Commit on top of `branch` (in the real git repo) and return the new sha."""
        with self.lock:
            repo = self.repo(repo_name)
            before = self.branch(repo_name, branch).sha
            login = self._actor(actor, self.org_of(repo))
            seq = self._next_seq()
            files = files or {
                f"updates/{branch}-{seq}.md": f"Update {seq} of {branch} by {login}\n"
            }
            message = message or f"Update {branch} ({seq})"
            after = self.git.commit_files(
                self.owner_login(repo), repo.name, branch, before, files, message, self._sig(login)
            )
            events = self._move_branch(repo, branch, before, after, login)
        self._emit(events)
        return after

    def create_branch(
        self,
        repo_name: str,
        name: str,
        from_ref: str | None = None,
        actor: str | None = None,
    ) -> Branch:
        with self.lock:
            repo = self.repo(repo_name)
            if name in repo.branches:
                raise ValidationFailed("Reference already exists")
            if not name or any(c in name for c in " ~^:?*[\\") or name.startswith("-"):
                raise ValidationFailed(f"{name!r} is not a valid ref name.")
            source = from_ref or repo.default_branch
            sha = repo.branches[source].sha if source in repo.branches else source
            login = self._actor(actor, self.org_of(repo))
            self.git.update_ref(self.owner_login(repo), repo.name, name, sha, None)
            events = [
                Event(
                    "create", None, login, self._snapshot(repo), {"ref": name, "ref_type": "branch"}
                )
            ]
            events += self._move_branch(repo, name, ZERO_SHA, sha, login, created=True)
        self._emit(events)
        return repo.branches[name]

    def _forget_branch(self, repo: Repository, name: str, actor: str) -> list[Event]:
        """Drop a deleted branch; GitHub closes the open PRs whose head it was."""
        before = repo.branches.pop(name).sha
        repo.pushed_at = repo.updated_at = now()
        events = [
            Event("delete", None, actor, self._snapshot(repo), {"ref": name, "ref_type": "branch"}),
            Event(
                "push",
                None,
                actor,
                self._snapshot(repo),
                {
                    "ref": f"refs/heads/{name}",
                    "before": before,
                    "after": ZERO_SHA,
                    "created": False,
                    "deleted": True,
                    "forced": False,
                    "commits": [],
                    "head_commit": None,
                },
            ),
        ]
        base = self.base_of(repo)
        for pr in self._pulls_headed_by(repo, name):
            events.append(self._close(base, pr, actor, merged=False))
        return events

    def delete_branch(self, repo_name: str, name: str, actor: str | None = None) -> None:
        with self.lock:
            repo = self.repo(repo_name)
            branch = self.branch(repo_name, name)
            if name == repo.default_branch:
                raise ValidationFailed("Cannot delete the default branch")
            login = self._actor(actor, self.org_of(repo))
            self.git.delete_ref(self.owner_login(repo), repo.name, name, branch.sha)
            events = self._forget_branch(repo, name, login)
        self._emit(events)

    def sync_from_git(self, repo_name: str, actor: str | None = None) -> list[Event]:
        """Take in what an HTTP `git push` changed: new, moved and deleted branches."""
        with self.lock:
            repo = self.repo(repo_name)
            login = self._actor(actor, self.org_of(repo))
            refs = self.git.list_branches(self.owner_login(repo), repo.name)
            events: list[Event] = []
            for name, sha in refs.items():
                known = repo.branches.get(name)
                if known is None:
                    events.append(
                        Event(
                            "create",
                            None,
                            login,
                            self._snapshot(repo),
                            {"ref": name, "ref_type": "branch"},
                        )
                    )
                    events += self._move_branch(repo, name, ZERO_SHA, sha, login, created=True)
                elif known.sha != sha:
                    events += self._move_branch(repo, name, known.sha, sha, login)
            for name in [b for b in repo.branches if b not in refs]:
                events += self._forget_branch(repo, name, login)
        self._emit(events)
        return events
