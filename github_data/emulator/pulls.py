"""Pull request mutations of the dataset (a mixin of `Dataset`, kept apart for size)."""

from __future__ import annotations

from .branches import BranchMutations
from .core import now
from .gitrepos import GitError
from .models import NotMergeable, PullRequest, ValidationFailed


def _invalid(field: str, message: str | None = None) -> ValidationFailed:
    error = {"resource": "PullRequest", "field": field, "code": "invalid"}
    if message:
        error = {"resource": "PullRequest", "code": "custom", "message": message}
    return ValidationFailed("Validation Failed", [error])


class PullRequestMutations(BranchMutations):
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
        """Open a PR (422 as GitHub: unknown head/base, or a PR for that head already open)."""
        with self.lock:
            repo = self.repo(repo_name)
            head = head.split(":", 1)[1] if ":" in head else head  # "owner:branch" form
            base = base or repo.default_branch
            if head not in repo.branches:
                raise _invalid("head")
            if base not in repo.branches:
                raise _invalid("base")
            if head == base or repo.branches[head].sha == repo.branches[base].sha:
                raise _invalid("head", f"No commits between {base} and {head}")
            if repo.open_pull_for_head(head) is not None:
                raise _invalid(
                    "head", f"A pull request already exists for {self.org.login}:{head}."
                )
            author = self._actor(user)
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
                head_sha=repo.branches[head].sha,
                base_sha=repo.branches[base].sha,
                created_at=opened,
                updated_at=opened,
                draft=draft,
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
            event = self._close(repo, pr, self._actor(actor), merged=False)
        self._emit([event])
        return pr

    def merge_pull_request(
        self, repo_name: str, number: int, actor: str | None = None
    ) -> PullRequest:
        """A real merge commit on the base branch, then the PR closes as merged."""
        with self.lock:
            repo, pr = self.repo(repo_name), self.pull(repo_name, number)
            if pr.state != "open" or pr.head not in repo.branches:
                raise NotMergeable("Pull Request is not mergeable")
            login = self._actor(actor)
            before = repo.branches[pr.base].sha
            message = (
                f"Merge pull request #{pr.number} from {self.org.login}/{pr.head}\n\n{pr.title}"
            )
            try:
                after = self.git.merge(
                    self.org.login,
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
            if pr.head not in repo.branches:
                raise _invalid("head", f"The head branch {pr.head} no longer exists")
            if repo.open_pull_for_head(pr.head) is not None:
                raise _invalid(
                    "head", f"A pull request already exists for {self.org.login}:{pr.head}."
                )
            pr.state, pr.closed_at, pr.updated_at = "open", None, now()
            pr.head_sha, pr.base_sha = repo.branches[pr.head].sha, repo.branches[pr.base].sha
            event = self._pr_event(repo, pr, "reopened", self._actor(actor))
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
            event = self._pr_event(repo, pr, "edited", self._actor(actor), changes=changes)
        self._emit([event])
        return pr
