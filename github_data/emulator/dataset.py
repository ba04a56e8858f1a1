"""The emulated organization: generated deterministically, then mutable while the server runs.

Every read and write holds `Dataset.lock` (re-entrant), so HTTP handler threads, test code
and git pushes see consistent records. Mutations return after the git repository, the
records and the emitted events agree; events are handed to listeners (webhook delivery)
*after* the lock is released, so a webhook receiver may call back into the emulator.
"""

from __future__ import annotations

import copy
import random
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .generate import (
    DatasetSpec,
    IdAllocator,
    base_time,
    make_app,
    make_org,
    make_repo,
    make_users,
)
from .gitrepos import GitStore, ObjectWriter, Signature
from .models import (
    Branch,
    Event,
    Installation,
    NotFound,
    OAuthApp,
    PullRequest,
    Repository,
    User,
    ValidationFailed,
)
from .pulls import PullRequestMutations

ZERO_SHA = "0" * 40
Listener = Callable[[Event], None]


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Dataset(PullRequestMutations):
    def __init__(self, spec: DatasetSpec, git_root: Path, private_key_pem: str | None = None) -> None:
        spec.validate()
        self.spec = spec
        self.lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._seq = 0
        rng = random.Random(spec.seed)
        self._rng = rng
        self._ids = IdAllocator(spec.seed)
        self.git = GitStore(git_root)
        self.app = make_app(spec, rng, private_key_pem)
        self.oauth_app = OAuthApp(
            client_id="Ov23li" + "%014x" % rng.getrandbits(56),
            client_secret="%040x" % rng.getrandbits(160),
        )
        users = make_users(spec, rng, self._ids)
        self.users: dict[str, User] = {u.login: u for u in users}
        self.org = make_org(spec, self._ids, users)
        start = base_time(spec.seed)
        self.installation: Installation | None = Installation(
            self._ids.next(), self.app.id, self.org.login, start, start
        )
        # Pull requests opened with an installation token are authored by the app's bot user.
        self.bot_login = f"{self.app.slug}[bot]"
        self.users[self.bot_login] = User(
            self.bot_login, self._ids.next(), self.app.name, f"{self.bot_login}@users.noreply.example.com",
            start, type="Bot",
        )
        self.repos: dict[str, Repository] = {}
        for i in range(spec.repos):
            sig = Signature("Foundry Emulator", "emulator@example.com", start + timedelta(hours=i))
            gen = make_repo(spec, i, rng, self._ids, users, sig)
            self._add_repo_to_git(gen.repo, gen.writer)
            self.repos[gen.repo.name] = gen.repo

    # -- plumbing -----------------------------------------------------------------------

    def _add_repo_to_git(self, repo: Repository, writer: ObjectWriter) -> None:
        refs = {b.name: b.sha for b in repo.branches.values()}
        self.git.create(self.org.login, repo.name, repo.default_branch, writer, refs)

    def add_listener(self, listener: Listener) -> None:
        with self.lock:
            self._listeners.append(listener)

    def _emit(self, events: list[Event]) -> None:
        for event in events:
            for listener in list(self._listeners):
                listener(event)

    def _actor(self, login: str | None) -> str:
        if login is not None:
            self.user(login)
            return login
        admins = [m for m, role in self.org.members.items() if role == "admin"]
        return admins[0] if admins else self.org.login

    def _sig(self, login: str) -> Signature:
        user = self.users.get(login)
        if user is None:
            return Signature(login, f"{login}@users.noreply.example.com", now())
        return Signature(user.name, user.email, now())

    def _snapshot(self, repo: Repository) -> Repository:
        return replace(repo, branches=dict(repo.branches), pulls=dict(repo.pulls))

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # -- reads --------------------------------------------------------------------------

    def repo(self, name: str) -> Repository:
        with self.lock:
            try:
                return self.repos[name]
            except KeyError:
                raise NotFound("Not Found") from None

    def branch(self, repo_name: str, name: str) -> Branch:
        with self.lock:
            try:
                return self.repo(repo_name).branches[name]
            except KeyError:
                raise NotFound("Branch not found") from None

    def pull(self, repo_name: str, number: int) -> PullRequest:
        with self.lock:
            try:
                return self.repo(repo_name).pulls[number]
            except KeyError:
                raise NotFound("Not Found") from None

    def user(self, login: str) -> User:
        with self.lock:
            for known, user in self.users.items():
                if known.lower() == login.lower():  # GitHub logins are case-insensitive
                    return user
            raise NotFound("Not Found")

    def members(self) -> list[User]:
        with self.lock:
            return [self.users[login] for login in self.org.members]

    def counts(self) -> dict[str, int | None]:
        with self.lock:
            pulls = [pr for repo in self.repos.values() for pr in repo.pulls.values()]
            return {
                "repos": len(self.repos),
                "branches": sum(len(r.branches) for r in self.repos.values()),
                "open_pulls": sum(pr.state == "open" for pr in pulls),
                "closed_pulls": sum(pr.state == "closed" for pr in pulls),
                "merged_pulls": sum(pr.merged_at is not None for pr in pulls),
                "members": len(self.org.members),
                "users": len(self.users),
                "installation_id": self.installation.id if self.installation else None,
            }

    # -- branches -----------------------------------------------------------------------

    def _move_branch(
        self, repo: Repository, branch: str, before: str, after: str, actor: str, created: bool = False
    ) -> list[Event]:
        """Record a branch's new head; return the push event plus PR synchronize events."""
        repo.branches[branch] = replace(repo.branches.get(branch) or Branch(branch, after), sha=after)
        repo.pushed_at = repo.updated_at = now()
        commits = self.git.commits_between(
            self.org.login, repo.name, None if created else before, after
        )
        forced = not created and not self.git.is_ancestor(self.org.login, repo.name, before, after)
        events = [
            Event(
                "push",
                None,
                actor,
                self._snapshot(repo),
                {"ref": f"refs/heads/{branch}", "before": before, "after": after,
                 "created": created, "deleted": False, "forced": forced,
                 "commits": [] if created else commits, "head_commit": commits[-1] if commits else None},
            )
        ]  # fmt: skip
        for pr in repo.pulls.values():
            if pr.state != "open":
                continue
            if pr.base == branch:
                pr.base_sha = after
            if pr.head == branch:
                pr.head_sha, pr.updated_at = after, now()
                events.append(
                    Event("pull_request", "synchronize", actor, self._snapshot(repo),
                          {"pull_request": copy.copy(pr), "before": before, "after": after})
                )  # fmt: skip
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
            login = self._actor(actor)
            seq = self._next_seq()
            files = files or {f"updates/{branch}-{seq}.md": f"Update {seq} of {branch} by {login}\n"}
            message = message or f"Update {branch} ({seq})"
            after = self.git.commit_files(
                self.org.login, repo.name, branch, before, files, message, self._sig(login)
            )
            events = self._move_branch(repo, branch, before, after, login)
        self._emit(events)
        return after

    def create_branch(
        self, repo_name: str, name: str, from_ref: str | None = None, actor: str | None = None
    ) -> Branch:
        with self.lock:
            repo = self.repo(repo_name)
            if name in repo.branches:
                raise ValidationFailed("Reference already exists")
            if not name or any(c in name for c in " ~^:?*[\\") or name.startswith("-"):
                raise ValidationFailed(f"{name!r} is not a valid ref name.")
            source = from_ref or repo.default_branch
            sha = repo.branches[source].sha if source in repo.branches else source
            login = self._actor(actor)
            self.git.update_ref(self.org.login, repo.name, name, sha, None)
            events = [Event("create", None, login, self._snapshot(repo),
                            {"ref": name, "ref_type": "branch"})]  # fmt: skip
            events += self._move_branch(repo, name, ZERO_SHA, sha, login, created=True)
        self._emit(events)
        return repo.branches[name]

    def _forget_branch(self, repo: Repository, name: str, actor: str) -> list[Event]:
        """Drop a deleted branch; GitHub closes the open PRs whose head it was."""
        before = repo.branches.pop(name).sha
        repo.pushed_at = repo.updated_at = now()
        events = [
            Event("delete", None, actor, self._snapshot(repo), {"ref": name, "ref_type": "branch"}),
            Event("push", None, actor, self._snapshot(repo),
                  {"ref": f"refs/heads/{name}", "before": before, "after": ZERO_SHA,
                   "created": False, "deleted": True, "forced": False, "commits": [],
                   "head_commit": None}),
        ]  # fmt: skip
        for pr in repo.pulls.values():
            if pr.state == "open" and pr.head == name:
                events.append(self._close(repo, pr, actor, merged=False))
        return events

    def delete_branch(self, repo_name: str, name: str, actor: str | None = None) -> None:
        with self.lock:
            repo = self.repo(repo_name)
            branch = self.branch(repo_name, name)
            if name == repo.default_branch:
                raise ValidationFailed("Cannot delete the default branch")
            login = self._actor(actor)
            self.git.delete_ref(self.org.login, repo.name, name, branch.sha)
            events = self._forget_branch(repo, name, login)
        self._emit(events)

    def sync_from_git(self, repo_name: str, actor: str | None = None) -> list[Event]:
        """Take in what an HTTP `git push` changed: new, moved and deleted branches."""
        with self.lock:
            repo = self.repo(repo_name)
            login = self._actor(actor)
            refs = self.git.list_branches(self.org.login, repo.name)
            events: list[Event] = []
            for name, sha in refs.items():
                known = repo.branches.get(name)
                if known is None:
                    events.append(Event("create", None, login, self._snapshot(repo),
                                        {"ref": name, "ref_type": "branch"}))  # fmt: skip
                    events += self._move_branch(repo, name, ZERO_SHA, sha, login, created=True)
                elif known.sha != sha:
                    events += self._move_branch(repo, name, known.sha, sha, login)
            for name in [b for b in repo.branches if b not in refs]:
                events += self._forget_branch(repo, name, login)
        self._emit(events)
        return events

    # -- members, installation, repositories ----------------------------------------------

    def add_member(
        self, login: str, name: str | None = None, role: str = "member", actor: str | None = None
    ) -> User:
        with self.lock:
            if any(m.lower() == login.lower() for m in self.org.members):
                raise ValidationFailed(f"{login} is already a member of {self.org.login}")
            sender = self._actor(actor)
            try:
                user = self.user(login)
            except NotFound:
                display = name or login.replace("-", " ").title()
                user = User(login, self._ids.next(), display, f"{login}@{self.org.login}.example.com", now())
                self.users[login] = user
            self.org.members[user.login] = role
            event = Event("organization", "member_added", sender, None,
                          {"user": copy.copy(user), "role": role})  # fmt: skip
        self._emit([event])
        return user

    def remove_member(self, login: str, actor: str | None = None) -> None:
        with self.lock:
            user = self.user(login)
            if user.login not in self.org.members:
                raise NotFound(f"{login} is not a member of {self.org.login}")
            role = self.org.members.pop(user.login)
            event = Event("organization", "member_removed", self._actor(actor), None,
                          {"user": copy.copy(user), "role": role})  # fmt: skip
        self._emit([event])

    def delete_installation(self, actor: str | None = None) -> Installation:
        with self.lock:
            if self.installation is None:
                raise NotFound("Not Found")
            gone, self.installation = self.installation, None
            event = Event("installation", "deleted", self._actor(actor), None, {"installation": gone})
        self._emit([event])
        return gone

    def create_installation(self, actor: str | None = None) -> Installation:
        with self.lock:
            if self.installation is not None:
                raise ValidationFailed("The app is already installed on this organization")
            self.installation = Installation(self._ids.next(), self.app.id, self.org.login, now(), now())
            event = Event("installation", "created", self._actor(actor), None,
                          {"installation": copy.copy(self.installation),
                           "repositories": [self._snapshot(r) for r in self.repos.values()]})  # fmt: skip
        self._emit([event])
        return self.installation

    def create_repository(self, name: str, private: bool = False, actor: str | None = None) -> Repository:
        """A new repository with only `main` (events: repository created + installation_repositories)."""
        with self.lock:
            if name in self.repos:
                raise ValidationFailed("name already exists on this account")
            login = self._actor(actor)
            spec = replace(self.spec, branches_per_repo=1, prs_per_repo=0)
            sig = Signature("Foundry Emulator", "emulator@example.com", now())
            gen = make_repo(spec, len(self.repos), self._rng, self._ids, [], sig, name=name, private=private)
            self._add_repo_to_git(gen.repo, gen.writer)
            self.repos[name] = gen.repo
            events = self._repository_events(gen.repo, "created", "added", login)
        self._emit(events)
        return gen.repo

    def delete_repository(self, name: str, actor: str | None = None) -> None:
        with self.lock:
            repo = self.repo(name)
            login = self._actor(actor)
            self.git.delete(self.org.login, name)
            del self.repos[name]
            events = self._repository_events(repo, "deleted", "removed", login)
        self._emit(events)

    def _repository_events(self, repo: Repository, action: str, change: str, actor: str) -> list[Event]:
        events = [Event("repository", action, actor, self._snapshot(repo))]
        if self.installation is not None:
            events.append(
                Event("installation_repositories", change, actor, None,
                      {"installation": copy.copy(self.installation), f"repositories_{change}": [self._snapshot(repo)]})
            )  # fmt: skip
        return events
