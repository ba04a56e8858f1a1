"""Who sees what, over real HTTP and real websockets: a member of acme
tries every page, API endpoint and socket of initech (404 / close 4404);
anonymous API and socket requests get 401 / close 4401; a person in two
organizations sees both; a member removed on GitHub loses access after the
member sync, or at once with the member webhook; the socket forwards the
organization's live events."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from foundry.live import organization_group, publish_now
from github_data.actor import github_data
from users.actor import user_handle
from users.models import Membership

from .conftest import Site, cards, settle, until

pytestmark = pytest.mark.workers


def socket(site: Site, org: str, browser: httpx.Client | None = None) -> ClientConnection:
    headers = {}
    if browser is not None:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    ws_url = site.url.replace("http://", "ws://")
    return connect(f"{ws_url}/ws/o/{org}/", additional_headers=headers, origin=site.url,
                   open_timeout=10)  # type: ignore[arg-type]


def close_code(site: Site, org: str, browser: httpx.Client | None = None) -> int | None:
    with socket(site, org, browser) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    return closed.value.rcvd.code if closed.value.rcvd else None


def test_a_member_of_one_organization_cannot_reach_another(site: Site) -> None:
    alice = site.sign_in("alice")  # acme only
    settle()
    assert alice.get("/o/acme/").status_code == 200
    assert alice.get("/api/v1/orgs/acme").json()["org_id"] == "acme"
    for url in ("/o/initech/", "/api/v1/orgs/initech", "/api/v1/orgs/initech/repos",
                "/o/globex/", "/o/personal-bob/", "/o/no-such-org/"):
        assert alice.get(url).status_code == 404, url
    # No hint that initech exists: its 404 is the one of a missing org (the
    # sign-out form's CSRF token is masked afresh on every page).
    def page_404(org: str) -> str:
        text = alice.get(f"/o/{org}/").text.replace(org, "ORG")
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)

    assert page_404("initech") == page_404("nosuchorg")
    assert "There is nothing here" in page_404("initech")
    assert close_code(site, "initech", alice) == 4404
    assert close_code(site, "no-such-org", alice) == 4404
    assert list(cards("alice")) == ["acme", "personal-alice"]

    anonymous = site.browser()
    assert anonymous.get("/api/v1/orgs").status_code == 401
    assert anonymous.get("/api/v1/orgs/acme").status_code == 401
    assert anonymous.get("/o/acme/").headers["Location"].startswith("/signin/")
    assert anonymous.get("/").headers["Location"] == "/signin/"
    assert close_code(site, "acme") == 4401


def test_a_person_in_two_organizations_sees_both(site: Site) -> None:
    bob = site.sign_in("bob")
    settle()
    seen = cards("bob")
    assert set(seen) == {"acme", "initech", "personal-bob"}
    assert (seen["initech"].role, seen["acme"].role) == ("admin", "member")
    assert seen["acme"].installation_status == "installed"
    assert seen["acme"].sync_status == "succeeded"
    assert seen["personal-bob"].installation_status == "not_installed"
    assert seen["personal-bob"].kind == "personal"
    for org in ("acme", "initech"):
        page = bob.get(f"/o/{org}/")
        assert page.status_code == 200 and f"{org}/repo-001" in page.text
    # The organization opened last is where / leads.
    until(lambda: bob.get("/").headers["Location"] == "/o/initech/", "the last org remembered")
    # A member sync or webhook (which know no roles) keeps his admin role.
    bob_id = Membership.objects.filter(user__username="bob").values_list("user_id").first()
    assert bob_id
    user_handle(bob_id[0]).send(
        "user.command.change_membership", {"org": "initech", "member": True},
        wait=True, timeout=30,
    )
    assert Membership.objects.get(user__username="bob", org="initech").role == "admin"


def test_the_socket_forwards_the_organizations_events(site: Site) -> None:
    carol = site.sign_in("carol")
    settle()
    with socket(site, "initech", carol) as ws:
        publish_now(organization_group("initech"), "sync.progress",
                    {"status": "running", "processed": 3, "total": 9})
        event: dict[str, Any] = json.loads(ws.recv(timeout=10))
    assert event == {"event": "sync.progress", "status": "running", "processed": 3, "total": 9}


def test_a_member_removed_on_github_loses_access_after_the_member_sync(
    make_site: Any,
) -> None:
    """No webhook reaches Foundry: the next full sync's member phase revokes
    the membership."""
    site = make_site(webhooks=False)
    bob = site.sign_in("bob")
    settle()
    assert bob.get("/o/acme/").status_code == 200
    site.github.dataset.remove_member("bob", org="acme")
    github_data.get(org="acme").send(
        "github_data.command.full_sync",
        {"org": "acme", "installation_id": site.github.installation_id_for("acme")},
        wait=True, timeout=120,
    )
    settle()
    assert not Membership.objects.filter(user__username="bob", org="acme").exists()
    assert bob.get("/o/acme/").status_code == 404
    assert bob.get("/o/initech/").status_code == 200


def test_a_member_removed_on_github_loses_access_with_the_webhook(site: Site) -> None:
    carol = site.sign_in("carol")
    settle()
    site.control("orgs/initech/members", {"action": "remove", "login": "carol"})
    settle()
    assert carol.get("/o/initech/").status_code == 404
    site.control("orgs/initech/members", {"action": "add", "login": "carol"})
    settle()
    assert carol.get("/o/initech/").status_code == 200
