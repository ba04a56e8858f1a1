"""Deterministic generation of the emulated organizations from a handful of numbers and a seed.

Everything here is a pure function of `DatasetSpec` (the RSA key aside): the same spec gives
the same ids, names, timestamps and git shas, so tests and demos can rely on them. Every
organization is generated from the same numbers; the first one (`org`) exactly as when the
dataset had only one, so adding organizations changes nothing of it.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .gitrepos import ObjectWriter, Signature
from .models import Branch, GitHubApp, Organization, PullRequest, Repository, User
from .people import Person

_PREFIXES = ["feature", "fix", "chore", "docs", "refactor", "test", "perf"]
_TOPICS = [
    "login-form",
    "billing-page",
    "api-client",
    "cache-layer",
    "search-index",
    "dark-mode",
    "rate-limiter",
    "audit-log",
    "webhooks",
    "onboarding",
    "export-csv",
    "sidebar",
    "settings",
    "notifications",
    "metrics",
    "retry-logic",
    "session-store",
    "sandbox-pool",
    "diff-viewer",
    "task-list",
]
_VERBS = {
    "feature": "Add",
    "fix": "Fix",
    "chore": "Update",
    "docs": "Document",
    "refactor": "Refactor",
    "test": "Test",
    "perf": "Speed up",
}
_FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Margaret",
    "Dennis",
    "Radia",
    "Linus",
    "Katherine",
    "John",
    "Hedy",
    "Tim",
    "Sophie",
    "Guido",
    "Anita",
    "Bjarne",
    "Carol",
    "Niklaus",
    "Shafi",
    "Leslie",
    "Jean",
    "Brian",
    "Annie",
    "Vint",
    "Mary",
    "Dorothy",
]
_LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Hamilton",
    "Ritchie",
    "Perlman",
    "Torvalds",
    "Johnson",
    "McCarthy",
    "Lamarr",
    "Berners-Lee",
    "Wilson",
    "Rossum",
    "Borg",
    "Stroustrup",
    "Shaw",
    "Wirth",
    "Goldwasser",
    "Lamport",
    "Bartik",
    "Kernighan",
    "Easley",
    "Cerf",
    "Keller",
    "Vaughan",
]


@dataclass(frozen=True)
class DatasetSpec:
    # The first organization: the App's owner. Its members, repositories and
    # installation come first and do not depend on the fields that add more.
    org: str = "acme"
    # Further organizations, each generated from the numbers below with its own
    # random stream (seeded by `seed` and its login).
    more_orgs: tuple[str, ...] = ()
    # Organizations (of `org` and `more_orgs`) where the App is not installed.
    orgs_without_app: tuple[str, ...] = ()
    # People with chosen logins and memberships, after every generated member.
    people: tuple[Person, ...] = ()
    repos: int = 6
    branches_per_repo: int = 4
    prs_per_repo: int = 2
    members: int = 5
    seed: int = 0
    # Open PRs per repository that reuse the head of one of its PRs against a second
    # base (the next non-main branch): one branch, two open PRs.
    second_base_prs_per_repo: int = 0
    # Open PRs per repository from members' forks (one fork per member), each on a
    # branch named like one of the repository's PR heads, as `patch-1` collides on GitHub.
    fork_prs_per_repo: int = 0

    def validate(self) -> None:
        if self.branches_per_repo < 1:
            raise ValueError("branches_per_repo counts `main`, so it must be at least 1")
        if self.prs_per_repo > self.branches_per_repo - 1:
            raise ValueError("each open PR needs its own non-main head branch")
        if self.prs_per_repo > 0 and self.members < 1:
            raise ValueError("pull requests need at least one member as author")
        if self.second_base_prs_per_repo > self.prs_per_repo:
            raise ValueError("second_base_prs_per_repo reuses PR heads: at most prs_per_repo")
        if self.second_base_prs_per_repo > 0 and self.branches_per_repo < 3:
            raise ValueError("a second base needs a non-main branch besides the head")
        if self.fork_prs_per_repo > self.members:
            raise ValueError("fork_prs_per_repo: one fork per member, so at most members")
        if self.fork_prs_per_repo > 0 and self.branches_per_repo < 2:
            raise ValueError("forked PRs are named after non-main branches: need at least 2")
        self._validate_accounts()

    def org_logins(self) -> list[str]:
        return [self.org, *self.more_orgs]

    def _validate_accounts(self) -> None:
        """Logins are unique across organizations and people, ignoring case (as on
        GitHub), and every organization named elsewhere is one of the dataset's."""
        orgs = self.org_logins()
        lowered = [o.lower() for o in orgs]
        if len(set(lowered)) != len(lowered):
            raise ValueError(f"organization logins must be unique (ignoring case): {orgs}")
        unknown = [o for o in self.orgs_without_app if o.lower() not in lowered]
        if unknown:
            raise ValueError(f"orgs_without_app names no organization of the dataset: {unknown}")
        people = [p.login.lower() for p in self.people]
        if len(set(people)) != len(people):
            raise ValueError(f"people's logins must be unique: {[p.login for p in self.people]}")
        for person in self.people:
            if person.login.lower() in lowered:
                raise ValueError(f"{person.login} is an organization's login, not a person's")
            strangers = [o for o in person.roles() if o.lower() not in lowered]
            if strangers:
                raise ValueError(
                    f"{person.login} is a member of {strangers}, which the dataset does not "
                    f"have (its organizations: {orgs})"
                )


@dataclass
class GeneratedRepo:
    repo: Repository
    writer: ObjectWriter
    main_files: dict[str, str]  # the default branch's tree: file name -> blob sha


class IdAllocator:
    """One increasing id space per dataset, offset by the seed so datasets differ visibly."""

    def __init__(self, seed: int) -> None:
        self._counter: Iterator[int] = itertools.count(10_000_000 + (seed % 1000) * 100_000 + 1)

    def next(self) -> int:
        return next(self._counter)


def base_time(seed: int) -> datetime:
    return datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=seed % 365)


def generate_keypair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # "BEGIN RSA PRIVATE KEY", as GitHub's
        serialization.NoEncryption(),
    ).decode()
    return private, public_pem_of(private)


def public_pem_of(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def make_app(spec: DatasetSpec, rng: random.Random, private_pem: str | None) -> GitHubApp:
    if private_pem is None:
        private_pem, public_pem = generate_keypair()
    else:
        public_pem = public_pem_of(private_pem)
    return GitHubApp(
        id=100_000 + rng.randrange(900_000),
        slug=f"{spec.org}-foundry",
        name=f"Foundry ({spec.org})",
        client_id=f"Iv1.{rng.getrandbits(64):016x}",
        private_key_pem=private_pem,
        public_key_pem=public_pem,
        created_at=base_time(spec.seed),
    )


def make_users(spec: DatasetSpec, rng: random.Random, ids: IdAllocator) -> list[User]:
    combos = [(f, last) for f in _FIRST for last in _LAST]
    rng.shuffle(combos)
    users: list[User] = []
    for i in range(spec.members):
        first, last = combos[i % len(combos)]
        login = f"{first}-{last}".lower()
        if i >= len(combos):  # only past 900 members: keep logins unique
            login += f"-{i // len(combos)}"
        users.append(
            User(
                login=login,
                id=ids.next(),
                name=f"{first} {last}",
                email=f"{login}@{spec.org}.example.com",
                created_at=base_time(spec.seed) - timedelta(days=400 - i),
            )
        )
    return users


def make_org(spec: DatasetSpec, ids: IdAllocator, users: list[User]) -> Organization:
    org = Organization(
        login=spec.org,
        id=ids.next(),
        name=spec.org.capitalize(),
        description=f"The {spec.org} organization (Foundry GitHub emulator)",
        created_at=base_time(spec.seed) - timedelta(days=500),
    )
    for i, user in enumerate(users):
        org.members[user.login] = "admin" if i == 0 else "member"
    return org


def branch_names(rng: random.Random, count: int) -> list[str]:
    """`count` distinct readable names like `fix-audit-log`, not including `main`."""
    combos = [f"{p}-{t}" for p in _PREFIXES for t in _TOPICS]
    rng.shuffle(combos)
    return [
        combos[i % len(combos)] + (f"-{i // len(combos) + 1}" if i >= len(combos) else "")
        for i in range(count)
    ]


def readme(org: str, repo: str) -> str:
    return (
        f"# {repo}\n\nDemo repository of the {org} organization, "
        "served by the Foundry GitHub emulator.\n"
    )


def make_repo(
    spec: DatasetSpec,
    index: int,
    rng: random.Random,
    ids: IdAllocator,
    authors: list[User],
    committer: Signature,
    name: str | None = None,
    private: bool | None = None,
) -> GeneratedRepo:
    """One repository with its branches, open PRs and the git objects behind them."""
    name = name or f"repo-{index + 1:03d}"
    created = committer.when
    writer = ObjectWriter()
    main_files = {
        "README.md": writer.blob(readme(spec.org, name)),
        "app.py": writer.blob(
            f'"""{name}."""\n\n\ndef main() -> None:\n    print("hello from {name}")\n'
        ),
    }
    main_sha = writer.commit(writer.tree(main_files), [], committer, f"Initial commit of {name}")
    repo = Repository(
        id=ids.next(),
        name=name,
        private=rng.random() < 0.3 if private is None else private,
        description=f"{name} of {spec.org}",
        created_at=created,
        updated_at=created,
        pushed_at=created,
        org=spec.org,
    )
    repo.branches["main"] = Branch("main", main_sha, protected=True)
    for j, branch in enumerate(branch_names(rng, spec.branches_per_repo - 1)):
        author = authors[(index + j) % len(authors)] if authors else None
        when = created + timedelta(minutes=j + 1)
        sig = (
            Signature(author.name, author.email, when)
            if author
            else Signature(committer.name, committer.email, when)
        )
        prefix, _, topic = branch.partition("-")
        files = dict(main_files)
        files[f"{branch}.md"] = writer.blob(
            f"# {branch}\n\n{_VERBS.get(prefix, 'Work on')} {topic}.\n"
        )
        sha = writer.commit(writer.tree(files), [main_sha], sig, f"{pr_title(branch)}")
        repo.branches[branch] = Branch(branch, sha)
        repo.pushed_at = repo.updated_at = when
    heads = [b for b in repo.branches if b != "main"][: spec.prs_per_repo]
    for head in heads:
        author = authors[rng.randrange(len(authors))]
        opened = created + timedelta(days=1 + repo.next_number, hours=rng.randrange(24))
        number = repo.next_number
        repo.next_number += 1
        repo.pulls[number] = PullRequest(
            id=ids.next(),
            number=number,
            title=pr_title(head),
            body=f"This pull request works on `{head}`.",
            user=author.login,
            head=head,
            base="main",
            head_sha=repo.branches[head].sha,
            base_sha=main_sha,
            created_at=opened,
            updated_at=opened + timedelta(hours=rng.randrange(1, 48)),
        )
    return GeneratedRepo(repo, writer, main_files)


def pr_title(branch: str) -> str:
    prefix, _, topic = branch.partition("-")
    return f"{_VERBS.get(prefix, 'Work on')} {topic.replace('-', ' ')}"
