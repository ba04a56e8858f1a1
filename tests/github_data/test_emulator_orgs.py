"""Several organizations, people and the App's installations in the emulator, over real
HTTP (httpx, githubkit, Foundry's own client, git, the management command), no mocks.

The demo (`DEMO_ORGS`): acme and initech with the App, globex without it; alice (acme
admin), bob (acme, initech admin), carol (initech), dave (none), erin (globex), frank
(none, the App on his personal account).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from github_data.client import GitHubRequestError, find_installation_id
from github_data.emulator import DEMO_ORGS, GitHubEmulator
from github_data.webhooks import on_installation

from .conftest import WebhookReceiver
from .test_emulator import git, require_githubkit

MakeEmulator = Callable[..., GitHubEmulator]

# Who belongs where in the demo: organization -> role.
MEMBERSHIPS = {
    "alice": {"acme": "admin"},
    "bob": {"acme": "member", "initech": "admin"},
    "carol": {"initech": "member"},
    "dave": {},
    "erin": {"globex": "member"},
    "frank": {},
}


@pytest.fixture
def demo(make_emulator: MakeEmulator) -> GitHubEmulator:
    return make_emulator(**DEMO_ORGS, repos=2)


def client(gh: GitHubEmulator, token: str | None = None, scheme: str = "token") -> httpx.Client:
    headers = {"Accept": "application/vnd.github+json"}
    if token is not None:
        headers["Authorization"] = f"{scheme} {token}"
    return httpx.Client(base_url=gh.base_url, headers=headers, timeout=30)


@pytest.fixture
def as_app(demo: GitHubEmulator) -> Iterator[httpx.Client]:
    with client(demo, demo.app_jwt(), scheme="Bearer") as app:
        yield app


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, (response.request.url, response.text)
    return response.json()


def fingerprint(gh: GitHubEmulator, org: str) -> Any:
    """What generation made of `org`: members, repositories, branches, pull requests."""
    ds = gh.dataset
    return (
        ds.org_named(org).id,
        gh.installation_id_for(org),
        [(m.login, m.id, m.email) for m in ds.members(org) if m.login not in ds.people],
        [
            (
                r.id,
                r.name,
                r.private,
                {b.name: b.sha for b in r.branches.values()},
                [(p.number, p.title, p.user, p.head) for p in r.pulls.values()],
            )
            for r in ds.org_named(org).repos.values()
        ],
    )


# -- the dataset --------------------------------------------------------------------------


def test_the_first_organization_is_generated_as_when_it_was_alone(
    make_emulator: MakeEmulator, demo: GitHubEmulator
) -> None:
    """Adding organizations and people changes nothing of the first organization:
    same ids, members, repositories and shas as a single-organization dataset."""
    alone = make_emulator(repos=2)
    assert fingerprint(demo, "acme") == fingerprint(alone, "acme")
    assert (demo.app_id, demo.oauth_client_id) == (alone.app_id, alone.oauth_client_id)
    assert demo.orgs == ["acme", "initech", "globex"]
    assert demo.dataset.people == list(MEMBERSHIPS)
    again = make_emulator(**DEMO_ORGS, repos=2)
    for org in demo.orgs:
        assert fingerprint(again, org) == fingerprint(demo, org)
    assert again.installation_ids() == demo.installation_ids()
    assert set(demo.installation_ids()) == {"acme", "initech", "frank"}


def test_each_organization_has_its_own_repositories(demo: GitHubEmulator, tmp_path: Path) -> None:
    """Each installation token lists its organization's repositories; the same name in two
    organizations is two repositories with their own content, branches, pull requests and
    git repository; another organization's private data stays hidden."""
    with client(demo, demo.installation_token("acme")) as acme, client(
        demo, demo.installation_token("initech")
    ) as initech:
        acme_repos = ok(acme.get("/installation/repositories"))["repositories"]
        initech_repos = ok(initech.get("/installation/repositories"))["repositories"]
        assert [r["full_name"] for r in acme_repos] == ["acme/repo-001", "acme/repo-002"]
        assert [r["full_name"] for r in initech_repos] == ["initech/repo-001", "initech/repo-002"]
        assert not {r["id"] for r in acme_repos} & {r["id"] for r in initech_repos}
        acme_main = ok(acme.get("/repos/acme/repo-001/branches/main"))["commit"]["sha"]
        initech_main = ok(initech.get("/repos/initech/repo-001/branches/main"))["commit"]["sha"]
        assert acme_main != initech_main  # each README names its organization
        pulls = ok(initech.get("/repos/initech/repo-001/pulls"))
        initech_members = set(demo.dataset.org_named("initech").members)
        assert pulls and all(p["base"]["repo"]["full_name"] == "initech/repo-001" for p in pulls)
        assert all(p["user"]["login"] in initech_members for p in pulls)
        assert ok(initech.get("/orgs/initech"))["login"] == "initech"

        # Another organization's members and private repositories are not the token's.
        demo.dataset.create_repository("initech/secret", private=True)
        assert initech.get("/repos/initech/secret").status_code == 200
        assert acme.get("/repos/initech/secret").status_code == 404
        assert ok(acme.get("/orgs/initech/members")) == []
        assert len(ok(initech.get("/orgs/initech/members"))) == 7
        assert "total_private_repos" not in ok(acme.get("/orgs/initech"))
        assert ok(initech.get("/orgs/initech"))["total_private_repos"] >= 1

    refs = git("ls-remote", "--heads", demo.git_url("initech/repo-001"))
    cloned = {
        ref.removeprefix("refs/heads/"): sha for sha, ref in map(str.split, refs.splitlines())
    }
    branches = demo.dataset.repo("initech/repo-001").branches.values()
    assert cloned == {b.name: b.sha for b in branches}
    with pytest.raises(RuntimeError, match="not installed on globex"):
        demo.installation_token("globex")


def test_people_see_their_own_organizations_and_installations(demo: GitHubEmulator) -> None:
    """`/user/orgs`, `/user/memberships/orgs`, `/orgs/{org}/members/{login}` and
    `/user/installations` with each person's OAuth token, for every membership shape:
    one organization, two, none, only one without the App, a personal installation."""
    ids = demo.installation_ids()
    for login, roles in MEMBERSHIPS.items():
        with client(demo, demo.user_token(login)) as me:
            assert ok(me.get("/user"))["login"] == login
            assert [o["login"] for o in ok(me.get("/user/orgs"))] == list(roles), login
            memberships = ok(me.get("/user/memberships/orgs"))
            assert {m["organization"]["login"]: m["role"] for m in memberships} == roles
            for org in demo.orgs:
                # A member learns yes (204) or no (404); anyone else is sent to the
                # public membership check, and no membership is public here.
                check = me.get(f"/orgs/{org}/members/{login}")
                assert check.status_code == (204 if org in roles else 302), (login, org)
                if org not in roles:
                    assert me.get(check.headers["Location"]).status_code == 404
            if roles:
                org = next(iter(roles))
                stranger = "carol" if login != "carol" else "alice"
                assert me.get(f"/orgs/{org}/members/{stranger}").status_code == (
                    204 if org in MEMBERSHIPS[stranger] else 404
                )
            reachable = ok(me.get("/user/installations"))
            expected = {ids[a] for a in [*roles, login] if a in ids}
            assert {i["id"] for i in reachable["installations"]} == expected, login
            assert reachable["total_count"] == len(expected)
    with client(demo, demo.installation_token("acme")) as acme:
        assert {"alice", "bob"} <= {m["login"] for m in ok(acme.get("/orgs/acme/members"))}
        assert "carol" not in {m["login"] for m in ok(acme.get("/orgs/acme/members"))}


def test_installation_lookups_as_the_app(demo: GitHubEmulator, as_app: httpx.Client) -> None:
    """The App finds its installations: on organizations, on a personal account, and
    a 404 where it is not installed (githubkit and Foundry's client read them)."""
    ids = demo.installation_ids()
    listed = ok(as_app.get("/app/installations"))
    assert [(i["account"]["login"], i["target_type"]) for i in listed] == [
        ("acme", "Organization"),
        ("initech", "Organization"),
        ("frank", "User"),
    ]
    assert ok(as_app.get("/app"))["installations_count"] == 3
    assert ok(as_app.get("/orgs/initech/installation"))["id"] == ids["initech"]
    assert ok(as_app.get("/orgs/ACME/installation"))["id"] == ids["acme"]
    personal = ok(as_app.get("/users/frank/installation"))
    assert (personal["id"], personal["account"]["type"]) == (ids["frank"], "User")
    assert personal["html_url"].endswith(f"/settings/installations/{ids['frank']}")
    assert ok(as_app.get("/users/initech/installation"))["id"] == ids["initech"]
    for missing in ("/orgs/globex/installation", "/orgs/nowhere/installation",
                    "/users/dave/installation", "/users/nobody/installation",
                    "/orgs/frank/installation"):
        assert as_app.get(missing).status_code == 404, missing

    require_githubkit()
    from githubkit import AppAuthStrategy, GitHub

    app = GitHub(
        AppAuthStrategy(str(demo.app_id), demo.app_private_key_pem), base_url=demo.base_url
    )
    assert app.rest.apps.get_user_installation("frank").parsed_data.target_type == "User"
    assert app.rest.apps.get_org_installation("initech").parsed_data.id == ids["initech"]
    credentials = {
        "app_id": demo.app_id,
        "private_key_pem": demo.app_private_key_pem,
        "base_url": demo.base_url,
    }
    assert find_installation_id("initech", **credentials) == ids["initech"]
    assert find_installation_id("frank", **credentials) == ids["frank"]
    with pytest.raises(GitHubRequestError) as missing:
        find_installation_id("globex", **credentials)
    assert missing.value.status == 404

    # A personal installation reaches the repositories its user owns: forks here.
    with client(demo, demo.installation_token("frank")) as frank:
        assert ok(frank.get("/installation/repositories"))["total_count"] == 0
        demo.dataset.create_fork("acme/repo-001", "frank")
        demo.dataset.create_fork("initech/repo-001", "frank")  # same name: repo-001-1
        forks = ok(frank.get("/installation/repositories"))["repositories"]
        assert [f["full_name"] for f in forks] == ["frank/repo-001", "frank/repo-001-1"]
        assert ok(frank.get("/repos/frank/repo-001-1"))["parent"]["full_name"] == "initech/repo-001"


# -- installations and members changed through the control routes: signed webhooks -----------


def deliveries(receiver: WebhookReceiver, since: int = 0) -> list[tuple[str, dict[str, Any]]]:
    return [
        (r.headers["X-GitHub-Event"], json.loads(r.body)) for r in receiver.received[since:]
    ]


def test_installation_webhooks_from_the_control_route(
    make_emulator: MakeEmulator, webhook_receiver: WebhookReceiver
) -> None:
    """Install, suspend, unsuspend and uninstall the App on globex and on dave's personal
    account: each sends its signed `installation` event (githubkit parses it; Foundry's
    dispatch reads the account from it); the account's other events reach the App only
    while its installation is live; a suspended installation's tokens are refused."""
    require_githubkit()
    from githubkit.webhooks import parse_obj, verify

    gh = make_emulator(**DEMO_ORGS, repos=2, webhook_url=webhook_receiver.url)
    control = client(gh)

    def installations(**body: Any) -> Any:
        response = control.post("/_emulator/installations", json=body)
        assert response.status_code == 200, response.text
        return response.json()["result"]

    gh.dataset.push("globex/repo-001", "main")
    assert webhook_receiver.received == []  # the App is not installed on globex

    created = installations(action="install", account="globex", actor="erin")
    globex_id = created["id"]
    assert (created["account"]["login"], created["target_type"]) == ("globex", "Organization")
    [(event, payload)] = deliveries(webhook_receiver)
    assert (event, payload["action"], payload["sender"]["login"]) == (
        "installation", "created", "erin",
    )
    assert payload["installation"]["id"] == globex_id
    assert [r["full_name"] for r in payload["repositories"]] == [
        "globex/repo-001", "globex/repo-002",
    ]
    assert on_installation("created", payload)[0].org == "globex"

    gh.dataset.push("globex/repo-001", "main")
    (push, pushed) = deliveries(webhook_receiver)[-1]
    assert push == "push" and pushed["installation"]["id"] == globex_id
    assert pushed["repository"]["full_name"] == "globex/repo-001"
    gh.dataset.create_repository("globex/fresh")
    (_, created_repo), (event, added) = deliveries(webhook_receiver)[-2:]
    assert created_repo["action"] == "created" and event == "installation_repositories"
    assert added["installation"]["id"] == globex_id
    assert [r["full_name"] for r in added["repositories_added"]] == ["globex/fresh"]

    token = gh.installation_token("globex")
    with client(gh, token) as globex, client(gh, gh.app_jwt(), scheme="Bearer") as app:
        assert globex.get("/installation/repositories").status_code == 200
        suspended = installations(action="suspend", account="globex", actor="erin")
        assert suspended["suspended_at"] and suspended["suspended_by"]["login"] == "erin"
        refused = globex.get("/installation/repositories")
        assert refused.status_code == 403 and "suspended" in refused.json()["message"]
        assert app.post(f"/app/installations/{globex_id}/access_tokens").status_code == 403
        count = len(webhook_receiver.received)
        gh.dataset.push("globex/repo-001", "main")  # held back while suspended
        assert len(webhook_receiver.received) == count
        installations(action="unsuspend", account="globex")
        assert globex.get("/installation/repositories").status_code == 200
        # The App may suspend its own installation too (JWT).
        assert app.put(f"/app/installations/{globex_id}/suspended").status_code == 204
        assert app.delete(f"/app/installations/{globex_id}/suspended").status_code == 204
        installations(action="uninstall", account="globex")
        assert globex.get("/installation/repositories").status_code == 401
        assert app.get("/orgs/globex/installation").status_code == 404

    gh.dataset.create_fork("acme/repo-001", "dave")
    count = len(webhook_receiver.received)
    gh.dataset.push("dave/repo-001", "main")  # dave's own repository: no App there yet
    assert len(webhook_receiver.received) == count
    personal = installations(action="install", account="dave")
    assert (personal["target_type"], personal["account"]["type"]) == ("User", "User")
    (event, payload) = deliveries(webhook_receiver)[-1]
    assert "organization" not in payload and payload["sender"]["login"] == "dave"
    assert [r["full_name"] for r in payload["repositories"]] == ["dave/repo-001"]
    assert on_installation("created", payload)[0].org == "personal-dave"
    gh.dataset.push("dave/repo-001", "main")  # now heard through his installation
    (event, payload) = deliveries(webhook_receiver)[-1]
    assert event == "push" and payload["installation"]["id"] == personal["id"]
    assert payload["repository"]["full_name"] == "dave/repo-001"
    assert "organization" not in payload

    actions = [(e, p.get("action")) for e, p in deliveries(webhook_receiver)]
    assert actions == [
        ("installation", "created"),
        ("push", None),
        ("repository", "created"),
        ("installation_repositories", "added"),
        ("installation", "suspend"),
        ("installation", "unsuspend"),
        ("installation", "suspend"),
        ("installation", "unsuspend"),
        ("installation", "deleted"),
        ("installation", "created"),
        ("push", None),
    ]
    for item in webhook_receiver.received:
        assert verify(gh.webhook_secret, item.body, item.headers["X-Hub-Signature-256"])
        parse_obj(item.headers["X-GitHub-Event"], json.loads(item.body))

    for bad, status in (
        ({"action": "install", "account": "acme"}, 422),  # already installed
        ({"action": "suspend", "account": "globex"}, 404),  # not installed
        ({"action": "install", "account": "nobody"}, 404),
        ({"action": "reinstall", "account": "acme"}, 400),
    ):
        assert control.post("/_emulator/installations", json=bad).status_code == status, bad
    rows = ok(control.get("/_emulator/installations"))
    assert {r["account"]: r["target_type"] for r in rows} == {
        "acme": "Organization", "initech": "Organization", "frank": "User", "dave": "User",
    }
    control.close()


def test_member_webhooks_from_the_control_route(
    make_emulator: MakeEmulator, webhook_receiver: WebhookReceiver
) -> None:
    """Adding and removing members through `/_emulator/orgs/{org}/members` changes what
    GitHub answers at once and sends the organization's signed `organization` event;
    an organization without the App sends none."""
    gh = make_emulator(**DEMO_ORGS, repos=1, webhook_url=webhook_receiver.url)
    control = client(gh)

    def members(org: str, **body: Any) -> httpx.Response:
        return control.post(f"/_emulator/orgs/{org}/members", json=body)

    assert members("initech", action="add", login="dave").status_code == 200
    assert members("acme", action="remove", login="bob", actor="alice").status_code == 200
    assert members("globex", action="add", login="carol").status_code == 200
    sent = deliveries(webhook_receiver)
    assert [(e, p["action"], p["organization"]["login"]) for e, p in sent] == [
        ("organization", "member_added", "initech"),
        ("organization", "member_removed", "acme"),
    ]
    ids = gh.installation_ids()
    assert [p["installation"]["id"] for _, p in sent] == [ids["initech"], ids["acme"]]
    assert [p["membership"]["user"]["login"] for _, p in sent] == ["dave", "bob"]
    assert sent[1][1]["sender"]["login"] == "alice"

    with client(gh, gh.user_token("dave")) as dave, client(gh, gh.user_token("bob")) as bob:
        assert [o["login"] for o in ok(dave.get("/user/orgs"))] == ["initech"]
        assert [o["login"] for o in ok(bob.get("/user/orgs"))] == ["initech"]
        # No longer a member: sent to the public check, which says no (as a client
        # that follows redirects, social-auth's for one, sees it).
        assert bob.get("/orgs/acme/members/bob", follow_redirects=True).status_code == 404
    with client(gh, gh.installation_token("initech")) as initech:
        assert "dave" in {m["login"] for m in ok(initech.get("/orgs/initech/members"))}
    users = {u["login"]: u for u in ok(control.get("/_emulator/users"))}
    assert users["carol"]["orgs"] == {"initech": "member", "globex": "member"}
    assert users["frank"]["installation"]["target_type"] == "User"
    assert users["alice"]["person"] and not users[gh.dataset.members()[0].login]["person"]
    orgs = {o["login"]: o for o in ok(control.get("/_emulator/orgs"))}
    assert orgs["globex"]["installation"] is None
    assert orgs["initech"]["installation"]["id"] == ids["initech"]
    assert orgs["initech"]["members"]["dave"] == "member"

    assert members("initech", action="add", login="dave").status_code == 422
    assert members("acme", action="remove", login="carol").status_code == 404
    assert members("nowhere", action="add", login="carol").status_code == 404
    assert members("acme", action="promote", login="carol").status_code == 400
    assert members("acme", action="add").status_code == 400
    control.close()


# -- the management command ------------------------------------------------------------------


def test_management_command_takes_several_organizations(tmp_path: Path) -> None:
    manage = Path(__file__).resolve().parents[2] / "manage.py"
    args = [
        "--port", "0", "--repos", "1", "--data-dir", str(tmp_path), "--org", "acme",
        "--org", "initech", "--org-without-app", "globex", "--people", "demo",
    ]
    proc = subprocess.Popen(
        [sys.executable, str(manage), "github_emulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or "Ctrl-C" not in lines[-1]:
            line = proc.stdout.readline()
            if not line:
                errors = proc.stderr.read() if proc.stderr else ""
                pytest.fail(f"the command ended early: {''.join(lines)} {errors}")
            lines.append(line)
        output = "".join(lines)
        assert re.search(r"globex: 1 repos.*App not installed", output)
        assert re.search(r"initech: 1 repos.*installation \d+", output)
        assert re.search(r"frank: no organization; App on the personal account", output)
        base_url = re.search(r"listening on (http://\S+)", lines[0]).group(1)  # type: ignore[union-attr]
        orgs = httpx.get(f"{base_url}/_emulator/orgs").json()
        assert [(o["login"], o["installation"] is not None) for o in orgs] == [
            ("acme", True), ("initech", True), ("globex", False),
        ]
        assert orgs[1]["members"]["bob"] == "admin"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0
