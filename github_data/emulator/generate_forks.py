"""Head branches shared by several pull requests, added to a generated repository.

GitHub allows one open PR per (head label, base) pair, so a branch may head PRs into
two bases, and a user's fork may have a branch named like the repository's own
(`patch-1`). `DatasetSpec.second_base_prs_per_repo` and `fork_prs_per_repo` ask for
these; nothing here draws from the seed's random stream, so a dataset without them is
exactly what it was before they existed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .generate import DatasetSpec, GeneratedRepo, IdAllocator, pr_title
from .gitrepos import ObjectWriter, Signature
from .models import Branch, PullRequest, Repository, User


def add_shared_heads(
    spec: DatasetSpec, index: int, gen: GeneratedRepo, ids: IdAllocator, authors: list[User]
) -> list[GeneratedRepo]:
    """Open `gen.repo`'s extra PRs; return the forks they come from (each with a writer
    holding only the objects the fork adds: the rest is its parent's)."""
    repo = gen.repo
    branches = non_main(repo)
    for j in range(spec.second_base_prs_per_repo):  # PR #j+1's head, into the next branch
        first = repo.pulls[j + 1]
        _open(repo, ids, head=first.head, base=branches[(j + 1) % len(branches)], user=first.user)
    return [
        _fork_with_pull(repo, k, ids, authors[(index + k) % len(authors)], gen.main_files)
        for k in range(spec.fork_prs_per_repo)
    ]


def non_main(repo: Repository) -> list[str]:
    return [b for b in repo.branches if b != repo.default_branch]


def make_fork(
    parent: Repository, owner: User, ids: IdAllocator, created: datetime, name: str | None = None
) -> Repository:
    """`owner`'s fork of the organization's `parent`: its default branch only (as GitHub's
    `default_branch_only`), named like it unless `name` says otherwise."""
    main = parent.branches[parent.default_branch]
    return Repository(
        id=ids.next(),
        name=name or parent.name,
        private=parent.private,  # a fork of a private repository stays private
        description=parent.description,
        created_at=created,
        updated_at=created,
        pushed_at=created,
        default_branch=parent.default_branch,
        branches={main.name: Branch(main.name, main.sha)},
        owner=owner,
        parent=parent.name,
        org=parent.org,
    )


def _fork_with_pull(
    parent: Repository, k: int, ids: IdAllocator, owner: User, main_files: dict[str, str]
) -> GeneratedRepo:
    """`owner`'s fork of `parent`, a commit on a branch named like the parent's k-th
    non-main branch, and the PR from it into the parent's default branch."""
    branch = non_main(parent)[k % len(non_main(parent))]
    created = parent.created_at + timedelta(hours=12 + k)
    fork = make_fork(parent, owner, ids, created)
    writer = ObjectWriter()
    files = dict(main_files)
    files[f"{branch}-{owner.login}.md"] = writer.blob(f"# {branch}\n\nFrom {owner.name}'s fork.\n")
    sig = Signature(owner.name, owner.email, created + timedelta(minutes=1))
    sha = writer.commit(
        writer.tree(files), [fork.branches[fork.default_branch].sha], sig, pr_title(branch)
    )
    fork.branches[branch] = Branch(branch, sha)
    fork.pushed_at = fork.updated_at = sig.when
    _open(parent, ids, head=branch, base=parent.default_branch, user=owner.login, head_repo=fork)
    return GeneratedRepo(fork, writer, files)


def _open(
    repo: Repository,
    ids: IdAllocator,
    *,
    head: str,
    base: str,
    user: str,
    head_repo: Repository | None = None,
) -> PullRequest:
    source = head_repo or repo
    opened = repo.created_at + timedelta(days=1 + repo.next_number)
    pr = PullRequest(
        id=ids.next(),
        number=repo.next_number,
        title=pr_title(head),
        body=f"This pull request works on `{head}`.",
        user=user,
        head=head,
        base=base,
        head_sha=source.branches[head].sha,
        base_sha=repo.branches[base].sha,
        created_at=opened,
        updated_at=opened + timedelta(hours=1),
        head_repo=head_repo,
    )
    repo.pulls[pr.number] = pr
    repo.next_number += 1
    return pr
