"""The tokens settings page over real HTTP (the ASGI app under uvicorn;
PostgreSQL and SQLite): a person lists, creates (shown once) and revokes
their own tokens with CSRF; another person's tokens are neither listed nor
revocable; the header links to it."""

from __future__ import annotations

import re

import httpx
from django.contrib.auth.models import User
from django.test import Client

from users.token_models import PersonalAccessToken
from users.tokens import create_token


def browser_of(server: str, user: User) -> httpx.Client:
    client = Client()
    client.force_login(user)
    return httpx.Client(base_url=server, follow_redirects=False, timeout=30,
                        cookies={"sessionid": client.cookies["sessionid"].value})


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def test_tokens_page(asgi_server: str) -> None:
    alice = User.objects.create_user("alice")
    bob = User.objects.create_user("bob")
    bobs = create_token(bob, "bob's script")
    browser = browser_of(asgi_server, alice)

    assert httpx.get(f"{asgi_server}/settings/tokens/").headers["Location"].startswith(
        "/signin/")
    page = browser.get("/settings/tokens/")
    assert page.status_code == 200 and "No tokens yet." in page.text
    assert 'href="/settings/tokens/"' in browser.get("/settings/tokens/").text  # header link
    assert "bob&#x27;s script" not in page.text and bobs.record.prefix not in page.text

    # Without the CSRF token: refused, nothing created.
    refused = browser.post("/settings/tokens/", data={"name": "x", "days": "7"})
    assert refused.status_code == 403
    assert not PersonalAccessToken.objects.filter(user=alice).exists()

    made = browser.post("/settings/tokens/", data={
        "csrfmiddlewaretoken": csrf_of(page), "name": "deploy script", "days": "7"})
    assert made.status_code == 200
    secret = re.search(r'<pre class="code" id="new-token">(fdy_[^<]+)</pre>', made.text)
    assert secret and 'id="copy-token"' in made.text
    assert "no-cache" in made.headers["Cache-Control"]
    record = PersonalAccessToken.objects.get(user=alice)
    lifetime = record.expires_at - record.created_at
    assert record.name == "deploy script" and round(lifetime.total_seconds() / 86400) == 7
    api = httpx.get(f"{asgi_server}/api/v1/me", timeout=30,
                    headers={"Authorization": f"Bearer {secret.group(1)}"})
    assert api.status_code == 200 and api.json()["login"] == "alice"

    # Shown once: the list has its prefix, last use, and never the secret again.
    listed = browser.get("/settings/tokens/")
    assert secret.group(1) not in listed.text and record.prefix in listed.text
    assert "deploy script" in listed.text and "never" not in listed.text  # used just now
    bad = browser.post("/settings/tokens/", data={
        "csrfmiddlewaretoken": csrf_of(listed), "name": "", "days": "7"})
    assert bad.status_code == 400 and "a token needs a name" in bad.text
    too_long = browser.post("/settings/tokens/", data={
        "csrfmiddlewaretoken": csrf_of(listed), "name": "x", "days": "9999"})
    assert too_long.status_code == 400 and "days" in too_long.text

    # bob's token cannot be revoked from alice's page; her own can.
    other = browser.post(f"/settings/tokens/{bobs.record.pk}/revoke/",
                         data={"csrfmiddlewaretoken": csrf_of(listed)})
    assert other.status_code == 302
    bobs.record.refresh_from_db()
    assert bobs.record.revoked_at is None
    assert "No such token." in browser.get("/settings/tokens/").text
    revoked = browser.post(f"/settings/tokens/{record.pk}/revoke/",
                           data={"csrfmiddlewaretoken": csrf_of(listed)})
    assert revoked.status_code == 302 and revoked.headers["Location"] == "/settings/tokens/"
    after = browser.get("/settings/tokens/")
    assert "revoked" in after.text and "Revoke</button>" not in after.text
    assert httpx.get(f"{asgi_server}/api/v1/me", timeout=30,
                     headers={"Authorization": f"Bearer {secret.group(1)}"}).status_code == 401
