"""Commands of the github-data actor: the full sync and the webhook-driven
changes. Long work lives here, in steps; the organization hears about it in
short commands (one per batch), so its own queue never waits on GitHub."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from foundry.actors.context import CommandContext
from github_data import rows, sync
from github_data.actor import github_data
from github_data.client import GitHubClient, RepoData
from github_data.memberships import member_changed
from github_data.models import GitHubBranch, GitHubMember, GitHubPullRequest, GitHubRepository
from github_data.schemas import BranchEventIn, FullSyncIn, MemberEventIn, PullRequestEventIn
from orgs.actor import organization
from orgs.schemas import PullRequestIn

T = TypeVar("T")


def _batches(items: list[T], size: int) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _org_handle(org: str) -> Any:
    return organization.get_or_create(org=org, create_with_input={"org": org})


class _LazyClient:
    """A GitHub client built on first use: a sync that replays its finished
    steps (after a crash, or resuming from a durable wait) builds none."""

    def __init__(self, installation_id: int) -> None:
        self._installation_id = installation_id
        self._client: GitHubClient | None = None

    def _get(self) -> GitHubClient:
        if self._client is None:
            self._client = GitHubClient(installation_id=self._installation_id)
        return self._client

    @property
    def request_count(self) -> int:
        return 0 if self._client is None else self._client.request_count

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)


@github_data.command("github_data.command.full_sync", payload=FullSyncIn)
def full_sync(ctx: CommandContext, payload: FullSyncIn) -> dict[str, Any]:
    org = payload.org
    client = cast(GitHubClient, _LazyClient(payload.installation_id))
    requests = 0

    def counted(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        """Record each step's GitHub requests in its output: a resumed sync
        still reports the requests of the batches finished before."""

        def run(*args: Any, **kwargs: Any) -> dict[str, Any]:
            before = client.request_count
            out = fn(*args, **kwargs)
            return {**out, "github_requests": client.request_count - before}

        return run

    try:
        ctx.step("begin", sync.begin, org, ctx.command_id)
        ctx.step(
            "save installation",
            lambda: (
                _org_handle(org)
                .send(
                    "organization.command.set_installation",
                    {
                        "login": payload.connected_account or org,
                        "installation_id": payload.installation_id,
                        "status": payload.installation_status,
                        "connected_account": payload.connected_account,
                    },
                )
                .id
            ),
        )
        listed = ctx.step("repositories", counted(sync.sync_repositories), org, client)
        requests += listed["github_requests"]
        repos = listed["repos"]
        batches = _batches(repos, sync.BATCH_SIZE)

        def each_batch(phase: str, fn: Callable[..., dict[str, Any]], **extra: Any) -> list[Any]:
            """One step per batch of repositories, named ``<phase> i/n`` (the
            names a resumed sync replays by); returns the steps' outputs."""
            nonlocal requests
            outputs = []
            for i, batch in enumerate(batches):
                out = ctx.step(
                    f"{phase} {i + 1}/{len(batches)}",
                    counted(fn),
                    org,
                    client,
                    batch,
                    done=min((i + 1) * sync.BATCH_SIZE, len(repos)),
                    total=len(repos),
                    **extra,
                )
                requests += out["github_requests"]
                outputs.append(out)
            return outputs

        branches = {
            (pk, name) for out in each_batch("branches", sync.sync_branches)
            for pk, name in out["seen"]
        }
        members = ctx.step("members", counted(sync.sync_members), org, client)
        requests += members["github_requests"]

        def to_organization(pulls: list[PullRequestIn]) -> None:
            _org_handle(org).send(
                "organization.command.apply_pull_requests",
                {"pull_requests": [p.model_dump(mode="json") for p in pulls]},
            )

        pull_steps = each_batch(
            "pull requests", sync.sync_pull_requests, send_to_organization=to_organization
        )
        pulls = {(pk, number) for out in pull_steps for pk, number in out["seen"]}
        open_prs = [pr for out in pull_steps for pr in out["open"]]

        def finalize() -> dict[str, Any]:
            deleted = sync.delete_unseen(
                org,
                repo_ids={r["id"] for r in repos},
                branches=branches,
                members=set(members["seen"]),
                pulls=pulls,
            )
            return {
                "repos": len(repos),
                "branches": len(branches),
                "members": len(members["seen"]),
                "pull_requests": len(pulls),
                "github_requests": requests,
                "deleted": deleted,
            }

        counts = ctx.step("finalize", finalize)
        # The organization runs its commands in order, so once this one is
        # done every batch of virtual tasks sent above is applied too. The
        # wait is durable: it frees the worker.
        closed = _org_handle(org).send(
            "organization.command.reconcile_open_pull_requests",
            {"open": open_prs},
            wait=True,
            timeout=600,
        )
        counts = {**counts, "closed_pull_requests": closed["closed"]}
        ctx.step("finish", sync.finish, org, counts)
        return counts
    except Exception as exc:
        ctx.step("record failure", sync.fail, org, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        client.close()


@github_data.command("github_data.command.apply_pull_request", payload=PullRequestEventIn)
def apply_pull_request(ctx: CommandContext, payload: PullRequestEventIn) -> dict[str, Any]:
    """A pull_request webhook: keep the open-PR cache, tell the organization."""
    org = ctx.key_fields["org"]
    pr = payload.pull_request

    def apply() -> dict[str, Any]:
        repo = _upsert_repository(org, payload.repository)
        if pr.state == "open":
            GitHubPullRequest.objects.update_or_create(
                repository=repo,
                number=pr.number,
                defaults=rows.pull_request_fields(org, repo.pk, pr),
            )
        else:
            GitHubPullRequest.objects.filter(repository=repo, number=pr.number).delete()
        pull = rows.pull_request_in(repo.github_id, repo.name, pr)
        _org_handle(org).send(
            "organization.command.apply_pull_requests",
            {"pull_requests": [pull.model_dump(mode="json")]},
        )
        return {"number": pr.number, "state": pull.state}

    return ctx.step("apply", apply)


@github_data.command("github_data.command.apply_branch", payload=BranchEventIn)
def apply_branch(ctx: CommandContext, payload: BranchEventIn) -> dict[str, Any]:
    """push / create / delete: the branch cache, then the task on it."""
    org = ctx.key_fields["org"]

    def apply() -> dict[str, Any]:
        repo = _upsert_repository(org, payload.repository)
        if payload.deleted:
            GitHubBranch.objects.filter(repository=repo, name=payload.branch).delete()
        elif not payload.head_sha:
            # A `create` event carries no sha; deliveries come in any order,
            # so it must not blank the sha a `push` already brought.
            GitHubBranch.objects.get_or_create(
                repository=repo, name=payload.branch, defaults={"org": org, "head_sha": ""}
            )
            return {"branch": payload.branch, "deleted": False}
        else:
            GitHubBranch.objects.update_or_create(
                repository=repo,
                name=payload.branch,
                defaults={"org": org, "head_sha": payload.head_sha},
            )
        _org_handle(org).send(
            "organization.command.refresh_branch",
            {
                "repo_id": payload.repository.id,
                "branch": payload.branch,
                "head_sha": payload.head_sha,
                "deleted": payload.deleted,
            },
        )
        return {"branch": payload.branch, "deleted": payload.deleted}

    return ctx.step("apply", apply)


@github_data.command("github_data.command.apply_member", payload=MemberEventIn)
def apply_member(ctx: CommandContext, payload: MemberEventIn) -> dict[str, Any]:
    """member_added / member_removed: a removed member's membership is
    revoked by deleting it."""
    org = ctx.key_fields["org"]

    def apply() -> dict[str, Any]:
        if payload.removed:
            deleted, _ = GitHubMember.objects.filter(org=org, github_id=payload.github_id).delete()
            told = member_changed(org, payload.login, member=False)
            return {"login": payload.login, "removed": bool(deleted), "told_user": told}
        GitHubMember.objects.update_or_create(
            org=org,
            github_id=payload.github_id,
            defaults={"login": payload.login, "avatar_url": payload.avatar_url},
        )
        told = member_changed(org, payload.login, member=True)
        return {"login": payload.login, "removed": False, "told_user": told}

    return ctx.step("apply", apply)


def _upsert_repository(org: str, repo: RepoData) -> GitHubRepository:
    """The event's repository, created if the cache has not seen it yet; an
    existing row is left to the full sync (deliveries arrive in any order)."""
    fields = rows.repository_fields(org, repo)
    row, _ = GitHubRepository.objects.get_or_create(
        org=fields.pop("org"), github_id=fields.pop("github_id"), defaults=fields
    )
    return row
