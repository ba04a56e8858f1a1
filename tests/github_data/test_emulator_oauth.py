"""The emulator's OAuth web flow over real HTTP: the authorize page a browser gets
(approved and denied through its own form, posted with httpx as a browser would), the
fast paths tests and scripts use (a preset user, a `login=` hint), the code exchange
and its failures, a failing exchange and an outage of the whole emulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from github_data.emulator import DEMO_ORGS, GitHubEmulator

from .test_emulator import git

MakeEmulator = Callable[..., GitHubEmulator]
CALLBACK = "http://127.0.0.1:9/complete/github/?next=%2F"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def demo(make_emulator: MakeEmulator) -> GitHubEmulator:
    return make_emulator(**DEMO_ORGS, repos=1)


@pytest.fixture
def browser(demo: GitHubEmulator) -> Iterator[httpx.Client]:
    """No credentials, no redirects followed: each step is looked at."""
    with httpx.Client(base_url=demo.base_url, headers=BROWSER, timeout=30) as client:
        yield client


def authorize_params(gh: GitHubEmulator, state: str = "st-1", **extra: str) -> dict[str, str]:
    return {
        "client_id": gh.oauth_client_id,
        "redirect_uri": CALLBACK,
        "scope": "read:org repo",
        "state": state,
        **extra,
    }


class Form(HTMLParser):
    """The page's form as a browser reads it: action, hidden fields, the radio choices
    (value and label text) and the submit buttons."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.action = ""
        self.hidden: dict[str, str] = {}
        self.choices: list[tuple[str, str]] = []
        self.checked: str | None = None
        self.buttons: dict[str, str] = {}
        self._label: list[str] | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = a["action"]
        elif tag == "label":
            self._label = []
        elif tag == "input" and a.get("type") == "hidden":
            self.hidden[a["name"]] = a["value"]
        elif tag == "input" and a.get("type") == "radio":
            self.choices.append((a["value"], ""))
            if "checked" in a:
                self.checked = a["value"]
        elif tag == "button":
            self.buttons[a["value"]] = a["name"]

    def handle_data(self, data: str) -> None:
        if self._label is not None:
            self._label.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self._label is not None:
            value, _ = self.choices[-1]
            self.choices[-1] = (value, " ".join("".join(self._label).split()))
            self._label = None

    def submit(self, login: str | None, decision: str) -> dict[str, str]:
        fields = dict(self.hidden)
        if login is not None:
            fields["login"] = login
        fields[self.buttons[decision]] = decision
        return fields


def redirect_query(response: httpx.Response) -> dict[str, list[str]]:
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK.split("?")[0]
    return parse_qs(location.query)


def exchange(gh: GitHubEmulator, code: str, **extra: str) -> httpx.Response:
    form = {
        "client_id": gh.oauth_client_id,
        "client_secret": gh.oauth_client_secret,
        "code": code,
        "redirect_uri": CALLBACK,
        **extra,
    }
    return httpx.post(
        f"{gh.base_url}/login/oauth/access_token",
        data=form,
        headers={"Accept": "application/json"},
        timeout=30,
    )


def signed_in(gh: GitHubEmulator, code: str) -> tuple[str, dict[str, Any]]:
    token = exchange(gh, code)
    assert token.status_code == 200 and "access_token" in token.json(), token.text
    auth = {"Authorization": f"token {token.json()['access_token']}"}
    me = httpx.get(f"{gh.base_url}/user", headers=auth, timeout=30)
    assert me.status_code == 200, me.text
    return token.json()["access_token"], me.json()


# -- the page ---------------------------------------------------------------------------------


def test_the_page_lists_people_and_signs_in_the_chosen_one(
    demo: GitHubEmulator, browser: httpx.Client
) -> None:
    page = browser.get("/login/oauth/authorize", params=authorize_params(demo))
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    form = Form(page.text)
    assert form.action == "/login/oauth/authorize"
    assert form.hidden == {
        "client_id": demo.oauth_client_id,
        "redirect_uri": CALLBACK,
        "scope": "read:org repo",
        "state": "st-1",
    }
    labels = dict(form.choices)
    assert [login for login, _ in form.choices][:6] == demo.dataset.people
    assert form.checked == "alice"
    assert labels["alice"] == "alice Alice Archer — acme (admin)"
    assert labels["bob"] == "bob Bob Baker — acme, initech (admin)"
    assert labels["dave"] == "dave Dave Dunn — no organization"
    assert labels["frank"].endswith("no organization; the App on their personal account")
    people = {u.login for u in demo.dataset.users.values() if u.type == "User"}
    assert set(labels) == people  # every person, and no bot

    answer = browser.post(form.action, data=form.submit("carol", "approve"))
    query = redirect_query(answer)
    assert query["state"] == ["st-1"] and query["next"] == ["/"] and "error" not in query
    token = exchange(demo, query["code"][0])
    assert token.json()["scope"] == "read:org,repo" and token.json()["token_type"] == "bearer"
    auth = {"Authorization": f"token {token.json()['access_token']}"}
    me = browser.get("/user", headers=auth)
    assert me.json()["login"] == "carol"
    assert me.headers["X-OAuth-Scopes"] == "read:org, repo"
    assert browser.get("/user/emails", headers=auth).json()[0]["email"] == "carol@example.com"
    assert [o["login"] for o in browser.get("/user/orgs", headers=auth).json()] == ["initech"]


def test_the_page_denies(demo: GitHubEmulator, browser: httpx.Client) -> None:
    page = browser.get("/login/oauth/authorize", params=authorize_params(demo, state="st-2"))
    form = Form(page.text)
    query = redirect_query(browser.post(form.action, data=form.submit("bob", "deny")))
    assert query["error"] == ["access_denied"] and query["state"] == ["st-2"]
    assert query["error_description"] == ["The user has denied your application access."]
    assert query["error_uri"][0].startswith("https://docs.github.com/")
    assert "code" not in query


def test_the_page_asks_again_for_a_missing_or_wrong_choice(
    demo: GitHubEmulator, browser: httpx.Client
) -> None:
    form = Form(browser.get("/login/oauth/authorize", params=authorize_params(demo)).text)
    for login in (None, "nobody", demo.dataset.bot_login, "acme"):
        again = browser.post(form.action, data=form.submit(login, "approve"))
        assert again.status_code == 400 and "Choose an account" in again.text, login
        assert Form(again.text).hidden == form.hidden  # the same request, asked again
    fields = {**form.hidden, "login": "alice", "decision": "maybe"}
    assert browser.post(form.action, data=fields).status_code == 400
    unknown = {**authorize_params(demo), "client_id": "Ov23li-not-this-app"}
    assert browser.get("/login/oauth/authorize", params=unknown).status_code == 404
    assert browser.post(form.action, data={**fields, "client_id": "nope"}).status_code == 404
    no_callback = {k: v for k, v in authorize_params(demo).items() if k != "redirect_uri"}
    assert browser.get("/login/oauth/authorize", params=no_callback).status_code == 400


def test_the_page_escapes_what_it_echoes(demo: GitHubEmulator, browser: httpx.Client) -> None:
    state = '"><script>alert(1)</script>'
    page = browser.get("/login/oauth/authorize", params=authorize_params(demo, state=state))
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    form = Form(page.text)
    assert form.hidden["state"] == state
    query = redirect_query(browser.post(form.action, data=form.submit("dave", "approve")))
    assert query["state"] == [state]  # the same state, byte for byte


# -- the fast paths: a hint, a preset user, a preset refusal -------------------------------


def test_a_hint_or_a_preset_user_approves_at_once(
    demo: GitHubEmulator, browser: httpx.Client
) -> None:
    hinted = browser.get("/login/oauth/authorize", params=authorize_params(demo, login="bob"))
    assert signed_in(demo, redirect_query(hinted)["code"][0])[1]["login"] == "bob"
    # GitHub ignores a hint it does not know: the page asks.
    unknown = browser.get("/login/oauth/authorize", params=authorize_params(demo, login="zed"))
    assert unknown.status_code == 200

    assert browser.post("/_emulator/oauth", json={"user": "frank"}).json() == {
        "user": "frank",
        "deny": False,
    }
    preset = browser.get("/login/oauth/authorize", params=authorize_params(demo))
    assert signed_in(demo, redirect_query(preset)["code"][0])[1]["login"] == "frank"
    hint_wins = browser.get("/login/oauth/authorize", params=authorize_params(demo, login="erin"))
    assert signed_in(demo, redirect_query(hint_wins)["code"][0])[1]["login"] == "erin"

    browser.post("/_emulator/oauth", json={"deny": True})  # the user stays preset
    for params in (authorize_params(demo), authorize_params(demo, login="bob")):
        refused = redirect_query(browser.get("/login/oauth/authorize", params=params))
        assert refused["error"] == ["access_denied"] and refused["state"] == ["st-1"]
    browser.post("/_emulator/oauth", json={"deny": False, "user": None})
    assert browser.get("/_emulator/state").json()["oauth"] == {"user": None, "deny": False}
    back_to_page = browser.get("/login/oauth/authorize", params=authorize_params(demo))
    assert back_to_page.status_code == 200

    for bad in ("nobody", demo.dataset.bot_login):
        assert browser.post("/_emulator/oauth", json={"user": bad}).status_code == 400


def test_a_preset_user_must_be_a_person(make_emulator: MakeEmulator) -> None:
    with pytest.raises(ValueError, match="'nobody' is not a person"):
        make_emulator(oauth_user="nobody")
    with pytest.raises(ValueError, match="'initech' is not a person"):
        make_emulator(**DEMO_ORGS, repos=1, oauth_user="initech")
    gh = make_emulator(**DEMO_ORGS, repos=1, oauth_user="dave")
    with httpx.Client(base_url=gh.base_url) as client:
        at_once = client.get("/login/oauth/authorize", params=authorize_params(gh))
        assert signed_in(gh, redirect_query(at_once)["code"][0])[1]["login"] == "dave"


# -- the code exchange and its failures ---------------------------------------------------


def code_for(gh: GitHubEmulator, login: str) -> str:
    answer = httpx.get(
        f"{gh.base_url}/login/oauth/authorize", params=authorize_params(gh, login=login)
    )
    return redirect_query(answer)["code"][0]


def test_a_code_is_exchanged_once_in_time_by_its_client(demo: GitHubEmulator) -> None:
    """Each failure is GitHub's 200 with an `error` body (JSON with `Accept: json`,
    form-encoded otherwise), never a token."""
    code = code_for(demo, "alice")
    assert signed_in(demo, code)[1]["login"] == "alice"
    reused = exchange(demo, code)
    assert reused.status_code == 200
    assert reused.json()["error"] == "bad_verification_code"
    assert reused.json()["error_description"] == "The code passed is incorrect or expired."
    assert exchange(demo, "0123456789abcdef0123").json()["error"] == "bad_verification_code"

    expired = code_for(demo, "alice")
    control = f"{demo.base_url}/_emulator/tokens"
    assert httpx.post(control, json={"action": "expire", "code": expired}).status_code == 200
    assert exchange(demo, expired).json()["error"] == "bad_verification_code"
    assert httpx.post(control, json={"action": "expire", "code": "nope"}).status_code == 404

    elsewhere = exchange(demo, code_for(demo, "alice"), redirect_uri="http://evil.example/cb")
    assert elsewhere.json()["error"] == "redirect_uri_mismatch"
    wrong_secret = httpx.post(
        f"{demo.base_url}/login/oauth/access_token",
        data={
            "client_id": demo.oauth_client_id,
            "client_secret": "not-the-secret",
            "code": code_for(demo, "alice"),
        },
    )
    assert wrong_secret.status_code == 200
    assert wrong_secret.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert parse_qs(wrong_secret.text)["error"] == ["incorrect_client_credentials"]


def test_a_failing_exchange_leaves_the_code_usable(demo: GitHubEmulator) -> None:
    """A 5xx on the exchange (fault rule on its path) happens before the code is
    looked at: the retry with the same code signs in."""
    code = code_for(demo, "bob")
    rule = {"action": "fail_next", "status": 503, "path_prefix": "/login/oauth/access_token"}
    assert httpx.post(f"{demo.base_url}/_emulator/faults", json=rule).status_code == 200
    failed = exchange(demo, code)
    assert failed.status_code == 503 and failed.json()["message"] == "Service Unavailable"
    assert signed_in(demo, code)[1]["login"] == "bob"
    demo.faults.fail_next(1, status=502, path_prefix="/login/oauth/access_token")
    assert exchange(demo, code_for(demo, "bob")).status_code == 502


def test_an_outage_takes_everything_but_the_control_routes(
    demo: GitHubEmulator, browser: httpx.Client
) -> None:
    token = demo.user_token("alice")
    user = {"Authorization": f"token {token}"}
    code = code_for(demo, "carol")
    faults = f"{demo.base_url}/_emulator/faults"
    assert httpx.post(faults, json={"action": "outage", "status": 503}).json()["outage"] == {
        "status": 503,
        "drop": False,
    }
    assert browser.get("/user", headers=user).status_code == 503
    assert browser.get("/login/oauth/authorize", params=authorize_params(demo)).status_code == 503
    assert exchange(demo, code).status_code == 503
    with pytest.raises(AssertionError, match="503"):
        git("ls-remote", demo.git_url("repo-001"))
    state = browser.get("/_emulator/state")
    assert state.status_code == 200 and state.json()["faults"]["outage"]["status"] == 503
    assert demo.request_counts()["GET (outage)"] >= 2

    httpx.post(faults, json={"action": "outage", "drop": True})
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{demo.base_url}/user", headers=user)
    with pytest.raises(httpx.RemoteProtocolError):
        exchange(demo, code)

    httpx.post(faults, json={"action": "end_outage"})
    assert browser.get("/user", headers=user).json()["login"] == "alice"
    assert signed_in(demo, code)[1]["login"] == "carol"  # the code outlived the outage
    demo.faults.start_outage(502)
    assert browser.get("/user", headers=user).status_code == 502
    demo.faults.clear()
    assert browser.get("/user", headers=user).status_code == 200
    with pytest.raises(ValueError, match="5xx"):
        demo.faults.start_outage(404)
