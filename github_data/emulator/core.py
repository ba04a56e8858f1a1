"""The dataset's first layer: generation, reads and the plumbing mutations share.

See `dataset.Dataset` for the locking and event rules every layer follows.
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
from .generate_forks import add_shared_heads
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
)

Listener = Callable[[Event], None]


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class DatasetCore:
    def __init__(
        self, spec: DatasetSpec, git_root: Path, private_key_pem: str | None = None
    ) -> None:
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
            client_id=f"Ov23li{rng.getrandbits(56):014x}",
            client_secret=f"{rng.getrandbits(160):040x}",
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
            self.bot_login,
            self._ids.next(),
            self.app.name,
            f"{self.bot_login}@users.noreply.example.com",
            start,
            type="Bot",
        )
        self.repos: dict[str, Repository] = {}
        # Users' forks of the organization's repositories, by full name ("login/name").
        self.forks: dict[str, Repository] = {}
        for i in range(spec.repos):
            sig = Signature("Foundry Emulator", "emulator@example.com", start + timedelta(hours=i))
            gen = make_repo(spec, i, rng, self._ids, users, sig)
            forks = add_shared_heads(spec, i, gen, self._ids, users)
            self._add_repo_to_git(gen.repo, gen.writer)
            self.repos[gen.repo.name] = gen.repo
            for fork in forks:
                self._add_fork(fork.repo, fork.writer)

    # -- plumbing -----------------------------------------------------------------------

    def _add_repo_to_git(self, repo: Repository, writer: ObjectWriter) -> None:
        refs = {b.name: b.sha for b in repo.branches.values()}
        self.git.create(self.org.login, repo.name, repo.default_branch, writer, refs)

    def _add_fork(self, fork: Repository, writer: ObjectWriter) -> None:
        """A fork's git repository borrows its parent's objects (git alternates), as
        GitHub's fork networks share one object store."""
        assert fork.owner is not None and fork.parent is not None
        refs = {b.name: b.sha for b in fork.branches.values()}
        self.git.create(
            fork.owner.login,
            fork.name,
            fork.default_branch,
            writer,
            refs,
            alternate=(self.org.login, fork.parent),
        )
        self.forks[f"{fork.owner.login}/{fork.name}"] = fork

    def owner_login(self, repo: Repository) -> str:
        return repo.owner.login if repo.owner is not None else self.org.login

    def base_of(self, repo: Repository) -> Repository:
        """Where pull requests from `repo`'s branches are opened: a fork's parent."""
        return self.repos[repo.parent] if repo.parent is not None else repo

    def add_listener(self, listener: Listener) -> None:
        with self.lock:
            self._listeners.append(listener)

    def _emit(self, events: list[Event]) -> None:
        for event in events:
            for listener in list(self._listeners):
                listener(event)

    def _actor(self, login: str | None) -> str:
        if login is not None:
            return self.user(login).login
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
        """A repository of the organization by name, or any repository (a fork too)
        by full name: `login/name`."""
        with self.lock:
            owner, _, short = name.rpartition("/")
            try:
                if not owner or owner.lower() == self.org.login.lower():
                    return self.repos[short]
                return next(
                    fork
                    for full_name, fork in self.forks.items()
                    if full_name.lower() == f"{owner}/{short}".lower()
                )
            except (KeyError, StopIteration):
                raise NotFound("Not Found") from None

    def fork_of(self, repo: Repository, owner: str) -> Repository:
        """`owner`'s fork of the organization's `repo` (GitHub logins are
        case-insensitive)."""
        with self.lock:
            for fork in self.forks.values():
                assert fork.owner is not None
                if fork.parent == repo.name and fork.owner.login.lower() == owner.lower():
                    return fork
            raise NotFound(f"{owner} has no fork of {self.org.login}/{repo.name}")

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
                "forks": len(self.forks),
                "branches": sum(len(r.branches) for r in self.repos.values()),
                "open_pulls": sum(pr.state == "open" for pr in pulls),
                "closed_pulls": sum(pr.state == "closed" for pr in pulls),
                "merged_pulls": sum(pr.merged_at is not None for pr in pulls),
                "members": len(self.org.members),
                "users": len(self.users),
                "installation_id": self.installation.id if self.installation else None,
            }

    # -- pull request events (shared by branch and PR mutations) -------------------------

    def _pulls_headed_by(self, repo: Repository, branch: str) -> list[PullRequest]:
        """The open PRs whose head is `branch` of `repo` (a repository or a fork)."""
        base = self.base_of(repo)
        return base.open_pulls_from(repo if repo.owner is not None else None, branch)

    def _pr_event(
        self, repo: Repository, pr: PullRequest, action: str, actor: str, **extra: object
    ) -> Event:
        return Event(
            "pull_request",
            action,
            actor,
            self._snapshot(repo),
            {"pull_request": copy.copy(pr), **extra},
        )

    def _close(self, repo: Repository, pr: PullRequest, actor: str, merged: bool) -> Event:
        pr.state = "closed"
        pr.closed_at = pr.updated_at = now()
        if merged:
            pr.merged_at, pr.merged_by = pr.closed_at, actor
        return self._pr_event(repo, pr, "closed", actor)
