"""The admin keeps its password sign-in (for the embedded default's admin
account), in a real browser against the served app."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from tests.browser.conftest import Shots


@pytest.mark.django_db(transaction=True)
def test_admin_password_sign_in(web_server: str, page: Page, shots: Shots) -> None:
    User.objects.create_superuser("admin", "admin@example.com", "correct horse")
    page.goto(f"{web_server}/admin/")
    expect(page.locator("#id_username")).to_be_visible()
    shots(page, "admin-sign-in")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "wrong")
    page.click("input[type=submit]")
    expect(page.locator(".errornote")).to_be_visible()
    shots(page, "wrong-password")
    page.fill("#id_password", "correct horse")
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()
    expect(page.get_by_role("link", name="Commands")).to_be_visible()
    shots(page, "site-administration")
