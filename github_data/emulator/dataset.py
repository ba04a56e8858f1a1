"""The emulated organizations: generated deterministically, then mutable while the server runs.

Every read and write holds `Dataset.lock` (re-entrant), so HTTP handler threads, test code
and git pushes see consistent records. Mutations return after the git repository, the
records and the emitted events agree; events are handed to listeners (webhook delivery)
*after* the lock is released, so a webhook receiver may call back into the emulator.

The class is assembled from layers, each its own module for size: `core.DatasetCore`
(generation, reads, plumbing) → `branches.BranchMutations` → `pulls.PullRequestMutations`
→ `accounts.AccountMutations` (members, installations) → `Dataset` (repositories, forks).
"""

from __future__ import annotations

import copy
from dataclasses import replace

from .accounts import AccountMutations
from .core import Listener, now
from .generate import make_repo
from .generate_forks import make_fork
from .gitrepos import ObjectWriter, Signature
from .models import Event, NotFound, Repository, ValidationFailed

__all__ = ["Dataset", "Listener"]


class Dataset(AccountMutations):
    """The mutable organizations; every mutation is thread-safe and emits its webhook events.

    - pull requests (`pulls`): open_pull_request, close_pull_request, merge_pull_request,
      reopen_pull_request, edit_pull_request;
    - branches (`branches`): push, create_branch, delete_branch, sync_from_git;
    - members and installations (`accounts`): add_member, remove_member,
      create_installation, delete_installation, suspend_installation,
      unsuspend_installation;
    - here: create_repository, delete_repository, create_fork.

    Repositories are named as `repo` takes them: `repo-001` (the first organization's),
    `initech/repo-001`, `login/repo-001` (a fork). Reads (`repo`, `branch`, `pull`,
    `user`, `members`, `org_named`, `installation_on`, `counts`…) return the live
    records: hold `lock` while reading several of them together.
    """

    # -- repositories -------------------------------------------------------------------------

    def create_repository(
        self, name: str, private: bool = False, actor: str | None = None
    ) -> Repository:
        """A repository with only `main`, in the first organization or in the one
        `name` names (`initech/fresh`); emits repository created (+
        installation_repositories added when the App is installed there)."""
        owner, _, short = name.rpartition("/")
        with self.lock:
            org = self.org_named(owner) if owner else self.org
            if short in org.repos:
                raise ValidationFailed("name already exists on this account")
            login = self._actor(actor, org)
            spec = replace(self.spec, org=org.login, branches_per_repo=1, prs_per_repo=0)
            sig = Signature("Foundry Emulator", "emulator@example.com", now())
            gen = make_repo(
                spec, len(org.repos), self._rng, self._ids, [], sig, name=short, private=private
            )
            self._add_repo_to_git(gen.repo, gen.writer)
            org.repos[short] = gen.repo
            events = self._repository_events(gen.repo, "created", "added", login)
        self._emit(events)
        return gen.repo

    def create_fork(self, repo_name: str, owner: str) -> Repository:
        """`owner`'s fork of an organization's repository (its default branch only;
        named like it, or `name-1`… when the user has a repository of that name). As on
        GitHub, asking again returns the existing fork. No webhook: the App is not
        subscribed to `fork` events."""
        with self.lock:
            parent = self.repo(repo_name)
            if parent.owner is not None:
                raise ValidationFailed("the emulator forks the organizations' repositories only")
            user = self.user(owner)
            if user.type != "User":
                raise ValidationFailed(f"{user.login} is not a user and cannot own a fork")
            try:
                return self.fork_of(parent, user.login)
            except NotFound:
                pass  # no fork yet: make one
            fork = make_fork(parent, user, self._ids, now())
            self._add_fork(fork, ObjectWriter())
            return fork

    def delete_repository(self, name: str, actor: str | None = None) -> None:
        """Its forks go with it (GitHub would keep them, one becoming the new root)."""
        with self.lock:
            repo = self.repo(name)
            if repo.owner is not None:
                raise ValidationFailed("only the organizations' repositories can be deleted")
            org = self.org_of(repo)
            login = self._actor(actor, org)
            for full_name, fork in list(self.forks.items()):
                if fork.parent == repo.name and fork.org == repo.org:
                    assert fork.owner is not None
                    self.git.delete(fork.owner.login, fork.name)
                    del self.forks[full_name]
            self.git.delete(repo.org, repo.name)
            del org.repos[repo.name]
            events = self._repository_events(repo, "deleted", "removed", login)
        self._emit(events)

    def _repository_events(
        self, repo: Repository, action: str, change: str, actor: str
    ) -> list[Event]:
        events = [Event("repository", action, actor, self._snapshot(repo))]
        installation = self.installation_on(repo.org)
        if installation is not None:
            events.append(
                Event(
                    "installation_repositories",
                    change,
                    actor,
                    None,
                    {
                        "installation": copy.copy(installation),
                        f"repositories_{change}": [self._snapshot(repo)],
                    },
                    account=repo.org,
                )
            )
        return events
