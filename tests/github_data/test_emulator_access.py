"""Who sees what in the emulator, as on GitHub: anonymous callers and users outside the
organization get public data and a 404 for private repositories (real HTTP, no mocks)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from github_data.emulator import GitHubEmulator

MakeEmulator = Callable[..., GitHubEmulator]


@dataclass
class Org:
    emulator: GitHubEmulator
    public: str  # a public repository with an open pull request
    private: str  # a private repository with an open pull request


@pytest.fixture
def org(make_emulator: MakeEmulator) -> Org:
    gh = make_emulator(repos=2)
    ds = gh.dataset
    for name, private in (("open-tool", False), ("secret-tool", True)):
        ds.create_repository(name, private=private)
        ds.create_branch(name, "feature-a")
        ds.push(name, "feature-a")
        ds.open_pull_request(name, "feature-a")
    return Org(gh, "open-tool", "secret-tool")


@pytest.fixture
def anonymous(org: Org) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=org.emulator.base_url) as client:
        yield client


def public_paths(repo: str) -> list[str]:
    return [
        f"/repos/acme/{repo}",
        f"/repos/acme/{repo}/branches",
        f"/repos/acme/{repo}/branches/main",
        f"/repos/acme/{repo}/pulls",
        f"/repos/acme/{repo}/pulls/1",
        f"/repos/acme/{repo}/commits/feature-a",
        f"/repos/acme/{repo}/compare/main...feature-a",
    ]


def test_anonymous_callers_see_public_data_only(org: Org, anonymous: httpx.Client) -> None:
    for path in public_paths(org.public):
        response = anonymous.get(path)
        assert response.status_code == 200, (path, response.text)
    for path in public_paths(org.private):
        response = anonymous.get(path)
        assert (response.status_code, response.json()["message"]) == (404, "Not Found"), path

    repo = anonymous.get(f"/repos/acme/{org.public}").json()
    assert repo["private"] is False and "permissions" not in repo
    pull = anonymous.get(f"/repos/acme/{org.public}/pulls/1").json()
    assert "permissions" not in pull["head"]["repo"] and "permissions" not in pull["base"]["repo"]

    listed = [r["name"] for r in anonymous.get("/orgs/acme/repos", params={"per_page": 100}).json()]
    public = sorted(r.name for r in org.emulator.dataset.repos.values() if not r.private)
    assert sorted(listed) == public and org.private not in listed

    profile = anonymous.get("/orgs/acme").json()
    assert profile["login"] == "acme" and profile["public_repos"] == len(public)
    assert "total_private_repos" not in profile and "owned_private_repos" not in profile
    member = next(iter(org.emulator.dataset.org.members))
    assert anonymous.get(f"/users/{member}").json()["login"] == member
    assert anonymous.get("/orgs/acme/members").json() == []  # memberships are private

    # Writing and the installation's own endpoints still need credentials.
    assert anonymous.post(
        f"/repos/acme/{org.public}/pulls", json={"head": "main", "base": "main"}
    ).status_code == 401
    assert anonymous.get("/installation/repositories").status_code == 401


def test_tokens_see_private_repositories_as_their_owner_may(org: Org) -> None:
    gh = org.emulator
    outsider = gh.dataset.add_member("outsider")
    gh.dataset.remove_member(outsider.login)  # an account that is not in the organization
    member = next(iter(gh.dataset.org.members))
    callers = {
        "installation": (gh.installation_token(), 200),
        "member": (gh.user_token(member), 200),
        "outsider": (gh.user_token(outsider.login), 404),
    }
    for who, (token, status) in callers.items():
        headers = {"Authorization": f"token {token}"}
        with httpx.Client(base_url=gh.base_url, headers=headers) as client:
            for path in public_paths(org.public):
                assert client.get(path).status_code == 200, (who, path)
            for path in public_paths(org.private):
                assert client.get(path).status_code == status, (who, path)
            repo = client.get(f"/repos/acme/{org.public}").json()
            assert repo["permissions"]["pull"] is True, who
            members = client.get("/orgs/acme/members").json()
            assert bool(members) == (status == 200), who
