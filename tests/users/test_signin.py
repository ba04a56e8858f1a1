"""Sign in with GitHub, over real HTTP: Foundry (uvicorn) and the GitHub
emulator, social-auth unmocked, real workers for the user actor. First and
second sign-in, a refusal, failed code exchanges, an outage, a repeated
callback, a forged state, sign-out, staff."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import httpx
import pytest
from django.contrib.auth import get_user_model
from social_django.models import UserSocialAuth

from audit_log.models import AuditEntry, AuditKind
from users.credentials import github_token
from users.models import GitHubCredential, Membership, UserProfile

from .conftest import Site, cards, messages_of, settle

pytestmark = pytest.mark.workers


def memberships(login: str) -> dict[str, str]:
    return dict(
        Membership.objects.filter(user__username=login).values_list("org", "role")
    )


def kinds(**filters: str) -> list[str]:
    return list(AuditEntry.objects.filter(**filters).order_by("id").values_list("kind", flat=True))


def test_first_sign_in(site: Site) -> None:
    """bob signs in: a user named after his login, his profile, memberships
    of acme and initech (admin) and his own account, his token encrypted
    (and working), the sign-in audited, then ``/`` leads to his
    organizations."""
    browser = site.sign_in("bob")
    user = get_user_model().objects.get(username="bob")
    assert memberships("bob") == {"acme": "member", "initech": "admin", "personal-bob": "personal"}
    profile = UserProfile.objects.get(user=user)
    assert (profile.login, profile.name, profile.email) == ("bob", "Bob Baker", "bob@example.com")

    stored = GitHubCredential.objects.get(user=user)
    token = github_token(user.pk)
    assert token not in stored.token_ciphertext and stored.scopes == "read:org,repo"
    me = httpx.get(f"{site.github.base_url}/user", headers={"Authorization": f"token {token}"})
    assert me.json()["login"] == "bob"
    assert "access_token" not in UserSocialAuth.objects.get(user=user).extra_data

    assert kinds(actor="bob") == ["membership_gained"] * 3 + ["sign_in"]
    home = browser.get("/")
    assert (home.status_code, home.headers["Location"]) == (302, "/orgs/")
    page = browser.get("/orgs/")
    assert page.status_code == 200
    for name in ("acme", "initech", "Sign out"):
        assert name in page.text
    assert "globex" not in page.text
    settle()  # the first sign-in started the syncs of acme and initech


def test_second_sign_in_updates_memberships(make_site: Callable[..., Site]) -> None:
    """A second sign-in reuses the user and sets memberships to what GitHub
    says now: bob left acme on GitHub (no webhook reached Foundry) and is
    no longer a member of it after signing in again."""
    site = make_site(webhooks=False)
    site.sign_in("bob")
    site.github.dataset.remove_member("bob", org="acme")
    site.sign_in("bob")
    assert get_user_model().objects.filter(username="bob").count() == 1
    assert memberships("bob") == {"initech": "admin", "personal-bob": "personal"}
    assert kinds(actor="bob", org="acme") == ["membership_gained", "membership_lost"]
    assert kinds(kind=AuditKind.SIGN_IN) == ["sign_in", "sign_in"]
    settle()


def test_denied_sign_in(site: Site) -> None:
    """The person refuses on GitHub: back to /signin/ with a sentence, not
    signed in, the failure audited."""
    site.control("oauth", {"deny": True})
    browser = site.browser()
    answer = site.authorize(site.begin(browser), "carol")
    back = browser.get(site.callback_url(answer))
    assert (back.status_code, back.headers["Location"]) == (302, "/signin/")
    assert "You declined the sign-in on GitHub" in messages_of(browser)
    assert browser.get("/orgs/").status_code == 302
    assert not get_user_model().objects.filter(username="carol").exists()
    [failed] = AuditEntry.objects.filter(kind=AuditKind.SIGN_IN_FAILED)
    assert failed.details["github_error"] == "access_denied"


@pytest.mark.parametrize("fault", ["503 on the exchange", "expired code", "outage"])
def test_failed_code_exchange(site: Site, fault: str) -> None:
    """The code exchange fails (GitHub answers 503, the code expired, or
    GitHub is down entirely): a readable message on /signin/, no 500, and
    the next attempt signs in."""
    browser = site.browser()
    callback = site.callback_url(site.authorize(site.begin(browser), "carol"))
    if fault == "503 on the exchange":
        site.github.faults.fail_next(1, status=503, path_prefix="/login/oauth/access_token")
    elif fault == "expired code":
        code = httpx.URL(callback).params["code"]
        site.control("tokens", {"action": "expire", "code": code})
    else:
        site.github.faults.start_outage(503)
    back = browser.get(callback)
    assert (back.status_code, back.headers["Location"]) == (302, "/signin/")
    expected = {
        "503 on the exchange": "GitHub is not answering right now",
        "expired code": "GitHub refused this sign-in",
        "outage": "GitHub is not answering right now",
    }[fault]
    assert expected in messages_of(browser)
    assert kinds() == ["sign_in_failed"]
    site.github.faults.clear()
    site.sign_in("carol", browser)
    assert browser.get("/orgs/").status_code == 200
    settle()


def test_repeated_callback_is_harmless(site: Site) -> None:
    """A proxy retries the callback (same state, same code): the second one
    exchanges nothing and leaves the person signed in."""
    browser = site.browser()
    callback = site.callback_url(site.authorize(site.begin(browser), "alice"))
    first = browser.get(callback)
    assert (first.status_code, first.headers["Location"]) == (302, "/")
    exchanges = site.github.request_counts().get("POST /login/oauth/access_token")
    again = browser.get(callback)
    assert (again.status_code, again.headers["Location"]) == (302, "/")
    assert site.github.request_counts().get("POST /login/oauth/access_token") == exchanges
    assert browser.get("/orgs/").status_code == 200
    # Another browser replaying the URL gets no session out of it.
    stranger = site.browser()
    replay = stranger.get(callback)
    assert (replay.status_code, replay.headers["Location"]) == (302, "/signin/")
    assert stranger.get("/orgs/").status_code == 302
    assert kinds(kind=AuditKind.SIGN_IN) == ["sign_in"]
    settle()


def test_state_is_checked(site: Site) -> None:
    """A callback whose state this browser never started (a forged or
    foreign one) signs nobody in."""
    browser = site.browser()
    callback = site.callback_url(site.authorize(site.begin(browser), "alice"))
    forged = callback.replace("state=", "state=x")
    back = browser.get(forged)
    assert (back.status_code, back.headers["Location"]) == (302, "/signin/")
    assert "expired or began in another browser" in messages_of(browser)
    other = site.browser()  # never began: the state is not in its session
    assert other.get(callback).headers["Location"] == "/signin/"
    assert browser.get("/orgs/").status_code == 302
    assert not get_user_model().objects.filter(username="alice").exists()


def test_sign_out_is_a_post(site: Site) -> None:
    browser = site.sign_in("carol")
    assert browser.get("/signout/").status_code == 405
    page = browser.get("/orgs/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token
    out = browser.post("/signout/", data={"csrfmiddlewaretoken": token.group(1)})
    assert (out.status_code, out.headers["Location"]) == (302, "/signin/")
    assert browser.get("/orgs/").status_code == 302
    assert kinds(actor="carol")[-1] == "sign_out"
    settle()


def test_admin_logins_are_staff(site: Site) -> None:
    """FOUNDRY_ADMIN_LOGINS (alice here) makes staff at sign-in; only staff
    reach the admin."""
    alice = site.sign_in("alice")
    bob = site.sign_in("bob")
    assert get_user_model().objects.get(username="alice").is_staff
    assert not get_user_model().objects.get(username="bob").is_staff
    assert alice.get("/admin/").status_code == 200
    denied = bob.get("/admin/")
    assert denied.status_code == 302 and denied.headers["Location"].startswith("/admin/login/")
    assert site.browser().get("/admin/").status_code == 302
    settle()


def test_sign_in_through_the_picker_page(site: Site) -> None:
    """With no hint, GitHub (the emulator) shows its page; the person picks
    themselves and approves, as in a browser, and lands in Foundry."""
    browser = site.browser()
    page = httpx.get(site.begin(browser), timeout=30)
    assert page.status_code == 200 and "frank" in page.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    fields = {k: html.unescape(v) for k, v in fields.items()}
    action = re.search(r'<form[^>]*action="([^"]+)"', page.text)
    assert action
    approved = httpx.post(
        f"{site.github.base_url}{action.group(1)}",
        data={**fields, "login": "frank", "decision": "approve"}, timeout=30,
    )
    done = browser.get(site.callback_url(approved))
    assert (done.status_code, done.headers["Location"]) == (302, "/")
    assert list(cards("frank")) == ["personal-frank"]
    settle()  # frank's own installation: his sign-in started its first sync
    card = cards("frank")["personal-frank"]
    assert (card.installation_status, card.sync_status) == ("installed", "succeeded")
    assert "frank" in browser.get("/o/personal-frank/").text


def test_the_admin_account_keeps_its_password_login(site: Site) -> None:
    """The embedded default's admin signs in to /admin/ with a password."""
    get_user_model().objects.create_superuser("admin", password="pw-for-the-test")
    admin = site.browser()
    form = admin.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token
    answer = admin.post("/admin/login/", data={
        "csrfmiddlewaretoken": token.group(1), "username": "admin",
        "password": "pw-for-the-test", "next": "/admin/",
    })
    assert (answer.status_code, answer.headers["Location"]) == (302, "/admin/")
    assert admin.get("/admin/").status_code == 200
