"""The dataset's first layer: generation, reads and the plumbing mutations share.

The dataset holds several organizations (`orgs`, the first one the App's owner), the
users, and the App's installations on organizations and personal accounts. A
repository is named by its full name (`initech/repo-001`, or `login/repo-001` for a
fork); a bare name (`repo-001`) is the first organization's, so single-organization
code reads as it always did.

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
    Organization,
    PullRequest,
    Repository,
    User,
)
from .people import Person

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
        self.users: dict[str, User] = {}
        # Organizations by login; the first one (the App's owner) first.
        self.orgs: dict[str, Organization] = {}
        # The App's installations by id: on organizations and on personal accounts.
        self.installations: dict[int, Installation] = {}
        # Users' forks of the organizations' repositories, by full name ("login/name").
        self.forks: dict[str, Repository] = {}
        # The logins of the spec's people, in its order.
        self.people: list[str] = []
        # The first organization is drawn in the order the dataset always drew it
        # (members, organization, installation, the App's bot, repositories), so its
        # ids, names and shas do not depend on anything the spec adds after it.
        start = base_time(spec.seed)
        members = self._generate_org(spec, rng)
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
        self._generate_repos(spec, rng, members)
        for login in spec.more_orgs:
            org_spec = replace(spec, org=login)
            org_rng = random.Random(f"{spec.seed}:{login}")
            self._generate_repos(org_spec, org_rng, self._generate_org(org_spec, org_rng))
        for person in spec.people:
            self._add_person(person, start)

    # -- generation ---------------------------------------------------------------------

    def _generate_org(self, spec: DatasetSpec, rng: random.Random) -> list[User]:
        """`spec.org` with its generated members, and the App installed on it unless
        the spec says otherwise; returns the members."""
        # A login drawn for a second organization too is one person in both.
        members = [self.users.setdefault(u.login, u) for u in make_users(spec, rng, self._ids)]
        org = make_org(spec, self._ids, members)
        self.orgs[org.login] = org
        if org.login.lower() not in {o.lower() for o in spec.orgs_without_app}:
            self._add_installation(org.login, "Organization", base_time(spec.seed))
        return members

    def _generate_repos(self, spec: DatasetSpec, rng: random.Random, members: list[User]) -> None:
        org = self.orgs[spec.org]
        start = base_time(spec.seed)
        for i in range(spec.repos):
            sig = Signature("Foundry Emulator", "emulator@example.com", start + timedelta(hours=i))
            gen = make_repo(spec, i, rng, self._ids, members, sig)
            forks = add_shared_heads(spec, i, gen, self._ids, members)
            self._add_repo_to_git(gen.repo, gen.writer)
            org.repos[gen.repo.name] = gen.repo
            for fork in forks:
                self._add_fork(fork.repo, fork.writer)

    def _add_person(self, person: Person, since: datetime) -> None:
        """A person of the spec; a login already generated as a member is that user."""
        user = self._find_user(person.login)
        if user is None:
            user = User(
                person.login,
                self._ids.next(),
                person.name,
                person.email(),
                since - timedelta(days=100),
            )
            self.users[user.login] = user
        self.people.append(user.login)
        for org_login, role in person.roles().items():
            self.org_named(org_login).members[user.login] = role
        if person.app_installed:
            self._add_installation(user.login, "User", since)

    def _add_installation(self, account: str, target_type: str, when: datetime) -> Installation:
        inst = Installation(self._ids.next(), self.app.id, account, when, when, target_type)
        self.installations[inst.id] = inst
        return inst

    # -- plumbing -----------------------------------------------------------------------

    def _add_repo_to_git(self, repo: Repository, writer: ObjectWriter) -> None:
        refs = {b.name: b.sha for b in repo.branches.values()}
        self.git.create(repo.org, repo.name, repo.default_branch, writer, refs)

    def _add_fork(self, fork: Repository, writer: ObjectWriter) -> None:
        """A fork's git repository borrows its parent's objects (git alternates), as
        GitHub's fork networks share one object store."""
        assert fork.owner is not None and fork.parent is not None
        fork.name = self._free_repo_name(fork.owner.login, fork.name)
        refs = {b.name: b.sha for b in fork.branches.values()}
        self.git.create(
            fork.owner.login,
            fork.name,
            fork.default_branch,
            writer,
            refs,
            alternate=(fork.org, fork.parent),
        )
        self.forks[f"{fork.owner.login}/{fork.name}"] = fork

    def _free_repo_name(self, owner: str, name: str) -> str:
        """`name`, or `name-1`, `name-2`…: a user forking two organizations'
        `repo-001` gets `repo-001` and `repo-001-1`, as GitHub names them."""
        taken = {full.lower() for full in self.forks}
        candidate, n = name, 0
        while f"{owner}/{candidate}".lower() in taken:
            n += 1
            candidate = f"{name}-{n}"
        return candidate

    def owner_login(self, repo: Repository) -> str:
        return repo.owner.login if repo.owner is not None else repo.org

    def full_name(self, repo: Repository) -> str:
        """`owner/name`, which names `repo` to every method that takes a repository."""
        return f"{self.owner_login(repo)}/{repo.name}"

    def org_of(self, repo: Repository) -> Organization:
        """The organization `repo` belongs to (a fork: its parent's)."""
        return self.orgs[repo.org]

    def base_of(self, repo: Repository) -> Repository:
        """Where pull requests from `repo`'s branches are opened: a fork's parent."""
        return self.orgs[repo.org].repos[repo.parent] if repo.parent is not None else repo

    def add_listener(self, listener: Listener) -> None:
        with self.lock:
            self._listeners.append(listener)

    def _emit(self, events: list[Event]) -> None:
        for event in events:
            for listener in list(self._listeners):
                listener(event)

    def _actor(self, login: str | None, org: Organization | None = None) -> str:
        """Who a mutation is by: `login`, else an admin of `org` (default: the first
        organization), else the organization itself."""
        if login is not None:
            return self.user(login).login
        org = org or self.org
        admins = [m for m, role in org.members.items() if role == "admin"]
        return admins[0] if admins else org.login

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

    # -- reads: accounts ----------------------------------------------------------------

    @property
    def org(self) -> Organization:
        """The first organization (the App's owner): what single-organization code means."""
        return self.orgs[self.spec.org]

    @property
    def repos(self) -> dict[str, Repository]:
        """The first organization's repositories, by name."""
        return self.org.repos

    @property
    def installation(self) -> Installation | None:
        """The App's installation on the first organization, if any."""
        return self.installation_on(self.spec.org)

    def org_named(self, login: str) -> Organization:
        """An organization of the dataset (GitHub logins are case-insensitive)."""
        with self.lock:
            for known, org in self.orgs.items():
                if known.lower() == login.lower():
                    return org
            raise NotFound(f"no organization {login!r} (the dataset has {list(self.orgs)})")

    def is_org(self, login: str) -> bool:
        return any(known.lower() == login.lower() for known in self.orgs)

    def account(self, login: str) -> Organization | User:
        """The organization or user `login` names."""
        with self.lock:
            return self.org_named(login) if self.is_org(login) else self.user(login)

    def installation_on(self, account: str) -> Installation | None:
        """The App's installation on the organization or personal account `account`."""
        with self.lock:
            for inst in self.installations.values():
                if inst.account.lower() == account.lower():
                    return inst
            return None

    def installation_by_id(self, ident: int) -> Installation:
        with self.lock:
            try:
                return self.installations[ident]
            except KeyError:
                raise NotFound("Not Found") from None

    def repos_of_account(self, account: str) -> list[Repository]:
        """What an installation on `account` reaches: an organization's repositories,
        or the forks a user owns (the emulator has no other personal repositories)."""
        with self.lock:
            if self.is_org(account):
                return list(self.org_named(account).repos.values())
            return [
                f
                for f in self.forks.values()
                if f.owner is not None and f.owner.login.lower() == account.lower()
            ]

    def memberships(self, login: str) -> list[tuple[Organization, str]]:
        """The organizations `login` is a member of, with the role in each."""
        with self.lock:
            user = self.user(login)
            return [
                (org, org.members[user.login])
                for org in self.orgs.values()
                if user.login in org.members
            ]

    def _find_user(self, login: str) -> User | None:
        for known, user in self.users.items():
            if known.lower() == login.lower():  # GitHub logins are case-insensitive
                return user
        return None

    def user(self, login: str) -> User:
        with self.lock:
            user = self._find_user(login)
            if user is None:
                raise NotFound("Not Found")
            return user

    def members(self, org: str | None = None) -> list[User]:
        """The members of `org` (default: the first organization), in GitHub's order."""
        with self.lock:
            found = self.org_named(org) if org is not None else self.org
            return [self.users[login] for login in found.members]

    # -- reads: repositories ------------------------------------------------------------

    def repo(self, name: str) -> Repository:
        """A repository of the first organization by name, or any repository by full
        name: `initech/repo-001` (another organization's), `login/repo-001` (a fork)."""
        with self.lock:
            owner, _, short = name.rpartition("/")
            try:
                if not owner:
                    return self.org.repos[short]
                if self.is_org(owner):
                    return self.org_named(owner).repos[short]
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
                if (
                    fork.parent == repo.name
                    and fork.org == repo.org
                    and fork.owner.login.lower() == owner.lower()
                ):
                    return fork
            raise NotFound(f"{owner} has no fork of {repo.org}/{repo.name}")

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

    def counts(self, org: str | None = None) -> dict[str, int | None]:
        """Counts of the whole dataset, or of one organization (`org`).
        `installation_id` is `org`'s, else the first organization's."""
        with self.lock:
            orgs = [self.org_named(org)] if org is not None else list(self.orgs.values())
            logins = {o.login for o in orgs}
            repos = [r for o in orgs for r in o.repos.values()]
            pulls = [pr for repo in repos for pr in repo.pulls.values()]
            inst = self.installation_on(orgs[0].login) if org is not None else self.installation
            return {
                "orgs": len(orgs),
                "repos": len(repos),
                "forks": sum(f.org in logins for f in self.forks.values()),
                "branches": sum(len(r.branches) for r in repos),
                "open_pulls": sum(pr.state == "open" for pr in pulls),
                "closed_pulls": sum(pr.state == "closed" for pr in pulls),
                "merged_pulls": sum(pr.merged_at is not None for pr in pulls),
                "members": len({m for o in orgs for m in o.members}),
                "users": len(self.users),
                "installations": len(self.installations),
                "installation_id": inst.id if inst else None,
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
