"""The emulated organization: generated deterministically, then mutable while the server runs.

Every read and write holds `Dataset.lock` (re-entrant), so HTTP handler threads, test code
and git pushes see consistent records. Mutations return after the git repository, the
records and the emitted events agree; events are handed to listeners (webhook delivery)
*after* the lock is released, so a webhook receiver may call back into the emulator.

The class is assembled from layers, each its own module for size: `core.DatasetCore`
(generation, reads, plumbing) → `branches.BranchMutations` → `pulls.PullRequestMutations`
→ `Dataset` (members, installation, repositories).
"""

from __future__ import annotations

import copy
from dataclasses import replace

from .core import Listener, now
from .generate import make_repo
from .generate_forks import make_fork
from .gitrepos import ObjectWriter, Signature
from .models import Event, Installation, NotFound, Repository, User, ValidationFailed
from .pulls import PullRequestMutations

__all__ = ["Dataset", "Listener"]


class Dataset(PullRequestMutations):
    """The mutable organization; every mutation is thread-safe and emits its webhook events.

    - pull requests (`pulls`): open_pull_request, close_pull_request, merge_pull_request,
      reopen_pull_request, edit_pull_request;
    - branches (`branches`): push, create_branch, delete_branch, sync_from_git;
    - here: add_member, remove_member, delete_installation, create_installation,
      create_repository, delete_repository, create_fork.

    Reads (`repo`, `branch`, `pull`, `user`, `members`, `counts`) return the live records:
    hold `lock` while reading several of them together.
    """

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
                user = User(
                    login, self._ids.next(), display, f"{login}@{self.org.login}.example.com", now()
                )
                self.users[login] = user
            self.org.members[user.login] = role
            event = Event(
                "organization",
                "member_added",
                sender,
                None,
                {"user": copy.copy(user), "role": role},
            )
        self._emit([event])
        return user

    def remove_member(self, login: str, actor: str | None = None) -> None:
        with self.lock:
            user = self.user(login)
            if user.login not in self.org.members:
                raise NotFound(f"{login} is not a member of {self.org.login}")
            role = self.org.members.pop(user.login)
            event = Event(
                "organization",
                "member_removed",
                self._actor(actor),
                None,
                {"user": copy.copy(user), "role": role},
            )
        self._emit([event])

    def delete_installation(self, actor: str | None = None) -> Installation:
        with self.lock:
            if self.installation is None:
                raise NotFound("Not Found")
            gone, self.installation = self.installation, None
            event = Event(
                "installation", "deleted", self._actor(actor), None, {"installation": gone}
            )
        self._emit([event])
        return gone

    def create_installation(self, actor: str | None = None) -> Installation:
        with self.lock:
            if self.installation is not None:
                raise ValidationFailed("The app is already installed on this organization")
            self.installation = Installation(
                self._ids.next(), self.app.id, self.org.login, now(), now()
            )
            event = Event(
                "installation",
                "created",
                self._actor(actor),
                None,
                {
                    "installation": copy.copy(self.installation),
                    "repositories": [self._snapshot(r) for r in self.repos.values()],
                },
            )
        self._emit([event])
        return self.installation

    def create_repository(
        self, name: str, private: bool = False, actor: str | None = None
    ) -> Repository:
        """A repository with only `main`; emits repository created + installation_repositories."""
        with self.lock:
            if name in self.repos:
                raise ValidationFailed("name already exists on this account")
            login = self._actor(actor)
            spec = replace(self.spec, branches_per_repo=1, prs_per_repo=0)
            sig = Signature("Foundry Emulator", "emulator@example.com", now())
            gen = make_repo(
                spec, len(self.repos), self._rng, self._ids, [], sig, name=name, private=private
            )
            self._add_repo_to_git(gen.repo, gen.writer)
            self.repos[name] = gen.repo
            events = self._repository_events(gen.repo, "created", "added", login)
        self._emit(events)
        return gen.repo

    def create_fork(self, repo_name: str, owner: str) -> Repository:
        """`owner`'s fork of the organization's repository (same name, its default branch
        only). As on GitHub, asking again returns the existing fork. No webhook: the App
        is not subscribed to `fork` events."""
        with self.lock:
            parent = self.repo(repo_name)
            if parent.owner is not None:
                raise ValidationFailed("the emulator forks the organization's repositories only")
            user = self.user(owner)
            if user.type != "User":
                raise ValidationFailed(f"{user.login} is not a user and cannot own a fork")
            existing = self.forks.get(f"{user.login}/{parent.name}")
            if existing is not None:
                return existing
            fork = make_fork(parent, user, self._ids, now())
            self._add_fork(fork, ObjectWriter())
            return fork

    def delete_repository(self, name: str, actor: str | None = None) -> None:
        """Its forks go with it (GitHub would keep them, one becoming the new root)."""
        with self.lock:
            repo = self.repo(name)
            if repo.owner is not None:
                raise ValidationFailed("only the organization's repositories can be deleted")
            login = self._actor(actor)
            for full_name, fork in list(self.forks.items()):
                if fork.parent == name:
                    assert fork.owner is not None
                    self.git.delete(fork.owner.login, fork.name)
                    del self.forks[full_name]
            self.git.delete(self.org.login, name)
            del self.repos[name]
            events = self._repository_events(repo, "deleted", "removed", login)
        self._emit(events)

    def _repository_events(
        self, repo: Repository, action: str, change: str, actor: str
    ) -> list[Event]:
        events = [Event("repository", action, actor, self._snapshot(repo))]
        if self.installation is not None:
            events.append(
                Event(
                    "installation_repositories",
                    change,
                    actor,
                    None,
                    {
                        "installation": copy.copy(self.installation),
                        f"repositories_{change}": [self._snapshot(repo)],
                    },
                )
            )
        return events
