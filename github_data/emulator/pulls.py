"""Pull request mutations of the dataset (a mixin of `Dataset`, kept apart for size).

As on GitHub, a head branch may be opened against several bases, and forks' branches may
share names with the base repository's: one open PR per (head label, base) pair.
"""

from __future__ import annotations

from .branches import BranchMutations
from .core import now
from .gitrepos import GitError
from .models import NotFound, NotMergeable, PullRequest, Repository, ValidationFailed


def _invalid(field: str, message: str | None = None) -> ValidationFailed:
    error = {"resource": "PullRequest", "field": field, "code": "invalid"}
    if message:
        error = {"resource": "PullRequest", "code": "custom", "message": message}
    return ValidationFailed("Validation Failed", [error])


class PullRequestMutations(BranchMutations):
    def _head_repo(self, repo: Repository, head: str) -> tuple[Repository | None, str]:
        """`branch` or `owner:branch` → (the fork it names, None for `repo` itself; branch)."""
        owner, _, branch = head.rpartition(":")
        if not owner or owner.lower() == repo.org.lower():
            return None, branch
        try:
            return self.fork_of(repo, owner), branch
        except NotFound:
            raise _invalid("head") from None

    def open_pull_request(
        self,
        repo_name: str,
        head: str,
        base: str | None = None,
        title: str | None = None,
        body: str = "",
        user: str | None = None,
        draft: bool = False,
    ) -> PullRequest:
        """Open a PR (422 as GitHub: unknown head/base, no commits between them, or a PR
        from that head into that base already open). `head` is `branch` or `owner:branch`;
        an owner other than the organization names that user's fork of the repository."""
        with self.lock:
            repo = self.repo(repo_name)
            head_repo, head = self._head_repo(repo, head)
            source = head_repo or repo
            base = base or repo.default_branch
            if head not in source.branches:
                raise _invalid("head")
            if base not in repo.branches:
                raise _invalid("base")
            if (head_repo is None and head == base) or (
                source.branches[head].sha == repo.branches[base].sha
            ):
                raise _invalid("head", f"No commits between {base} and {head}")
            label = f"{self.owner_login(source)}:{head}"
            if repo.open_pull(head_repo, head, base) is not None:
                raise _invalid("head", f"A pull request already exists for {label}.")
            author = self._actor(user, self.org_of(repo))
            number = repo.next_number
            repo.next_number += 1
            opened = now()
            pr = PullRequest(
                id=self._ids.next(),
                number=number,
                title=title or head.replace("-", " ").capitalize(),
                body=body,
                user=author,
                head=head,
                base=base,
                head_sha=source.branches[head].sha,
                base_sha=repo.branches[base].sha,
                created_at=opened,
                updated_at=opened,
                draft=draft,
                head_repo=head_repo,
            )
            repo.pulls[number] = pr
            event = self._pr_event(repo, pr, "opened", author)
        self._emit([event])
        return pr

    def close_pull_request(
        self, repo_name: str, number: int, actor: str | None = None
    ) -> PullRequest:
        with self.lock:
            repo, pr = self.repo(repo_name), self.pull(repo_name, number)
            if pr.state != "open":
                raise ValidationFailed("Pull request is already closed")
            event = self._close(repo, pr, self._actor(actor, self.org_of(repo)), merged=False)
        self._emit([event])
        return pr

    def merge_pull_request(
        self, repo_name: str, number: int, actor: str | None = None
    ) -> PullRequest:
        """A real merge commit on the base branch, then the PR closes as merged."""
        with self.lock:
            repo, pr = self.repo(repo_name), self.pull(repo_name, number)
            source = pr.head_repo or repo
            if pr.state != "open" or pr.head not in source.branches:
                raise NotMergeable("Pull Request is not mergeable")
            login = self._actor(actor, self.org_of(repo))
            before = repo.branches[pr.base].sha
            message = (
                f"Merge pull request #{pr.number} from "
                f"{self.owner_login(source)}/{pr.head}\n\n{pr.title}"
            )
            try:
                if pr.head_repo is not None:
                    # The fork's commits into the base repository first, where
                    # GitHub keeps every pull request's head.
                    self.git.fetch(
                        repo.org,
                        repo.name,
                        (self.owner_login(source), source.name),
                        f"refs/heads/{pr.head}",
                        f"refs/pull/{pr.number}/head",
                    )
                after = self.git.merge(
                    repo.org,
                    repo.name,
                    pr.base,
                    before,
                    pr.head_sha,
                    message,
                    self._sig(login),
                )
            except GitError as exc:
                raise NotMergeable(f"Pull Request is not mergeable: {exc}") from exc
            pr.merge_commit_sha = after
            events = self._move_branch(repo, pr.base, before, after, login)
            events.append(self._close(repo, pr, login, merged=True))
        self._emit(events)
        return pr

    def reopen_pull_request(
        self, repo_name: str, number: int, actor: str | None = None
    ) -> PullRequest:
        with self.lock:
            repo, pr = self.repo(repo_name), self.pull(repo_name, number)
            if pr.state == "open" or pr.merged_at is not None:
                raise ValidationFailed("Only a closed, unmerged pull request can be reopened")
            source = pr.head_repo or repo
            if pr.head not in source.branches:
                raise _invalid("head", f"The head branch {pr.head} no longer exists")
            if repo.open_pull(pr.head_repo, pr.head, pr.base) is not None:
                label = f"{self.owner_login(source)}:{pr.head}"
                raise _invalid("head", f"A pull request already exists for {label}.")
            pr.state, pr.closed_at, pr.updated_at = "open", None, now()
            pr.head_sha, pr.base_sha = source.branches[pr.head].sha, repo.branches[pr.base].sha
            event = self._pr_event(
                repo, pr, "reopened", self._actor(actor, self.org_of(repo))
            )
        self._emit([event])
        return pr

    def edit_pull_request(
        self,
        repo_name: str,
        number: int,
        title: str | None = None,
        body: str | None = None,
        actor: str | None = None,
    ) -> PullRequest:
        with self.lock:
            repo, pr = self.repo(repo_name), self.pull(repo_name, number)
            changes: dict[str, dict[str, str]] = {}
            if title is not None and title != pr.title:
                changes["title"], pr.title = {"from": pr.title}, title
            if body is not None and body != pr.body:
                changes["body"], pr.body = {"from": pr.body}, body
            if not changes:
                raise ValidationFailed("Nothing to change: give a new title or body")
            pr.updated_at = now()
            sender = self._actor(actor, self.org_of(repo))
            event = self._pr_event(repo, pr, "edited", sender, changes=changes)
        self._emit([event])
        return pr
