"""Forks and head branches shared by several pull requests in the emulator, as GitHub
allows them: PRs from users' forks (head repository ≠ base repository), and one open
PR per (head label, base) pair. Over real HTTP (httpx, githubkit, git) — no mocks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from github_data.emulator import DatasetSpec, GitHubEmulator, ValidationFailed

from .conftest import WebhookReceiver
from .test_emulator import git, require_githubkit

MakeEmulator = Callable[..., GitHubEmulator]
SHARED = {
    "repos": 2,
    "branches_per_repo": 4,
    "prs_per_repo": 2,
    "members": 3,
    "second_base_prs_per_repo": 1,
    "fork_prs_per_repo": 2,
}


def client(gh: GitHubEmulator) -> httpx.Client:
    headers = {"Authorization": f"token {gh.installation_token()}"}
    return httpx.Client(base_url=gh.base_url, headers=headers, timeout=30)


def test_generated_forks_and_second_bases_through_the_api(make_emulator: MakeEmulator) -> None:
    """The generator's forks: each repository gets PRs from members' forks on
    branches named like its own PR heads, and one PR head opened again against a
    second base; the API shows them as GitHub does, and githubkit parses them."""
    gh = make_emulator(**SHARED)
    assert gh.dataset.counts()["open_pulls"] == 2 * (2 + 1 + 2)
    assert gh.dataset.counts()["forks"] == 4
    with client(gh) as api:
        pulls = {p["number"]: p for p in api.get("/repos/acme/repo-001/pulls").json()}
        assert sorted(pulls) == [1, 2, 3, 4, 5]
        own = {n: p for n, p in pulls.items() if not p["head"]["repo"]["fork"]}
        forked = {n: p for n, p in pulls.items() if p["head"]["repo"]["fork"]}
        assert sorted(own) == [1, 2, 3] and sorted(forked) == [4, 5]
        # #3 is #1's head branch against a second base.
        assert own[3]["head"]["ref"] == own[1]["head"]["ref"]
        assert own[3]["base"]["ref"] not in ("main", own[1]["head"]["ref"])
        assert own[1]["head"]["label"] == f"acme:{own[1]['head']['ref']}"
        # The forks' branches are named like the base repository's PR heads.
        assert {p["head"]["ref"] for p in forked.values()} == {
            own[1]["head"]["ref"],
            own[2]["head"]["ref"],
        }
        for pr in forked.values():
            head = pr["head"]
            login = head["user"]["login"]
            assert head["label"] == f"{login}:{head['ref']}"
            assert head["repo"]["full_name"] == f"{login}/repo-001"
            owner = head["repo"]["owner"]
            assert (owner["login"], owner["type"]) == (login, "User")
            assert head["repo"]["id"] != pr["base"]["repo"]["id"]
            assert pr["base"]["repo"]["full_name"] == "acme/repo-001"
            assert pr["user"]["login"] == login
            assert {"clone_url", "default_branch", "html_url", "node_id"} <= set(head["repo"])

            fork = api.get(f"/repos/{login}/repo-001").json()
            assert (fork["fork"], fork["parent"]["full_name"], fork["source"]["full_name"]) == (
                True,
                "acme/repo-001",
                "acme/repo-001",
            )
            assert fork["clone_url"].endswith(f"/{login}/repo-001.git")

        # `head=owner:branch` tells the fork's branch from the base repository's.
        ref = own[1]["head"]["ref"]
        by_label = api.get("/repos/acme/repo-001/pulls", params={"head": f"acme:{ref}"}).json()
        assert sorted(p["number"] for p in by_label) == [1, 3]
        (fork_pr,) = [p for p in forked.values() if p["head"]["ref"] == ref]
        label = fork_pr["head"]["label"]
        assert [
            p["number"]
            for p in api.get("/repos/acme/repo-001/pulls", params={"head": label}).json()
        ] == [fork_pr["number"]]
        assert api.get("/repos/nobody/repo-001").status_code == 404

    require_githubkit()
    from githubkit import GitHub, TokenAuthStrategy

    kit = GitHub(TokenAuthStrategy(gh.installation_token()), base_url=gh.base_url)
    listed = kit.rest.pulls.list("acme", "repo-002", state="open").parsed_data
    assert sum(p.head.repo is not None and p.head.repo.fork for p in listed) == 2
    one = kit.rest.pulls.get("acme", "repo-002", 5).parsed_data
    assert one.head.repo is not None and one.head.repo.fork
    parsed_fork = kit.rest.repos.get(*one.head.repo.full_name.split("/")).parsed_data
    assert parsed_fork.fork
    assert parsed_fork.model_dump()["parent"]["full_name"] == "acme/repo-002"


def test_default_datasets_are_unchanged_by_the_new_shapes(make_emulator: MakeEmulator) -> None:
    """With the fork and second-base counts at 0 (the default) a dataset is what
    it was: no forks, one open PR per head branch, every base `main`."""
    gh = make_emulator()
    assert gh.dataset.counts()["forks"] == 0
    for repo in gh.dataset.repos.values():
        heads = [pr.head for pr in repo.pulls.values()]
        assert len(heads) == len(set(heads)) == 2
        assert all(pr.base == "main" and pr.head_repo is None for pr in repo.pulls.values())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"prs_per_repo": 1, "second_base_prs_per_repo": 2}, "at most prs_per_repo"),
        ({"branches_per_repo": 2, "prs_per_repo": 1, "second_base_prs_per_repo": 1}, "second base"),
        ({"members": 2, "fork_prs_per_repo": 3}, "one fork per member"),
    ],
)
def test_impossible_shapes_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DatasetSpec(**overrides).validate()


def test_pull_requests_from_forks_and_per_base(
    make_emulator: MakeEmulator, webhook_receiver: WebhookReceiver, tmp_path: Path
) -> None:
    """Fork a repository, push a branch named like one of its PR heads, open PRs
    from it over REST: GitHub's 422 for a true duplicate only; the fork's pushes
    and deleted branch reach the App as `pull_request` events of the base
    repository, never as the fork's own; a fork's PR merges with a real commit."""
    gh = make_emulator(webhook_url=webhook_receiver.url)
    ds = gh.dataset
    own = ds.pull("repo-001", 1)
    branch, user = own.head, ds.members()[1].login

    def mutate(**body: Any) -> Any:
        response = httpx.post(f"{gh.base_url}/_emulator/mutate", json=body)
        assert response.status_code == 200, response.text
        return response.json()["result"]

    fork = mutate(op="create_fork", repo="repo-001", owner=user)
    assert (fork["full_name"], fork["fork"], fork["parent"]["full_name"]) == (
        f"{user}/repo-001",
        True,
        "acme/repo-001",
    )
    assert mutate(op="create_fork", repo="repo-001", owner=user)["id"] == fork["id"]
    mutate(op="create_branch", repo=f"{user}/repo-001", name=branch)
    pushed = mutate(op="push", repo=f"{user}/repo-001", branch=branch, files={"f.md": "fork\n"})
    assert ds.branch("repo-001", branch).sha == own.head_sha  # the base's branch did not move

    with client(gh) as api:

        def open_pr(head: str, base: str) -> httpx.Response:
            return api.post(
                "/repos/acme/repo-001/pulls", json={"title": "T", "head": head, "base": base}
            )

        from_fork = open_pr(f"{user}:{branch}", "main")
        assert from_fork.status_code == 201, from_fork.text
        data = from_fork.json()
        assert (data["head"]["label"], data["head"]["sha"]) == (f"{user}:{branch}", pushed["sha"])
        assert data["head"]["repo"]["full_name"] == f"{user}/repo-001"
        again = open_pr(f"{user}:{branch}", "main")
        assert again.status_code == 422
        assert again.json()["errors"][0]["message"] == (
            f"A pull request already exists for {user}:{branch}."
        )
        other_base = next(b for b in ds.repo("repo-001").branches if b not in ("main", branch))
        assert open_pr(f"{user}:{branch}", other_base).status_code == 201
        assert open_pr(branch, other_base).status_code == 201  # the base's own branch, too
        duplicate = open_pr(f"acme:{branch}", "main")
        assert duplicate.status_code == 422
        assert duplicate.json()["errors"][0]["message"] == (
            f"A pull request already exists for acme:{branch}."
        )
        assert open_pr("stranger:x", "main").status_code == 422  # no such fork

    fork_pr = data["number"]
    ds.close_pull_request("repo-001", fork_pr)
    ds.open_pull_request("repo-001", f"{user}:{branch}", "main")
    with pytest.raises(ValidationFailed) as refused:  # a true duplicate again
        ds.reopen_pull_request("repo-001", fork_pr)
    assert "already exists" in refused.value.errors[0]["message"]

    webhook_receiver.received.clear()
    moved = ds.push(f"{user}/repo-001", branch)
    deliveries = [json.loads(r.body) for r in webhook_receiver.received]
    assert [(d.get("action"), d["pull_request"]["head"]["sha"]) for d in deliveries] == [
        ("synchronize", moved),
        ("synchronize", moved),
    ], "the fork's own push event must not reach the App"
    assert all(d["repository"]["full_name"] == "acme/repo-001" for d in deliveries)
    assert ds.pull("repo-001", 1).head_sha == own.head_sha  # the base's PR did not move

    # Merging a fork's PR fetches its head into the base repository first.
    into_main = ds.repo("repo-001").open_pull(ds.repo(f"{user}/repo-001"), branch, "main")
    assert into_main is not None
    merged = ds.merge_pull_request("repo-001", into_main.number)
    clone = tmp_path / "c"
    git("clone", "-q", gh.git_url("repo-001"), str(clone))
    assert git("rev-parse", "HEAD", cwd=clone).strip() == merged.merge_commit_sha
    assert (clone / "f.md").read_text() == "fork\n"
    # The fork is a real repository of its own, cloned over HTTP.
    forked = tmp_path / "f"
    git("clone", "-q", "--branch", branch, fork["clone_url"], str(forked))
    assert git("rev-parse", "HEAD", cwd=forked).strip() == moved

    webhook_receiver.received.clear()
    ds.delete_branch(f"{user}/repo-001", branch)
    closed = [json.loads(r.body) for r in webhook_receiver.received]
    assert [(d["action"], d["pull_request"]["head"]["label"]) for d in closed] == [
        ("closed", f"{user}:{branch}")
    ]
    assert ds.pull("repo-001", 1).state == "open"
