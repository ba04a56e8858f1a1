"""API tests: people, memberships and tokens in the real database; requests
through Django's test client against the real API (auth, CSRF, throttle and
error handlers included)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from orgs.models import Organization
from users.models import Membership
from users.tokens import create_token


@pytest.fixture
def two_orgs(db: None) -> dict[str, User]:
    """alice in acme, bob in initech, carol in both; dave in none."""
    Organization.objects.create(org_id="acme", login="acme", installation_id=1)
    Organization.objects.create(org_id="initech", login="initech", installation_id=2)
    people = {login: User.objects.create(username=login) for login in
              ("alice", "bob", "carol", "dave")}
    for login, orgs in {"alice": ["acme"], "bob": ["initech"],
                        "carol": ["acme", "initech"]}.items():
        for org in orgs:
            Membership.objects.create(user=people[login], org=org)
    return people


Call = Callable[..., Any]


@pytest.fixture
def as_token() -> Callable[[User], Client]:
    """A client that sends a fresh token of ``user`` on every request."""

    def make(user: User) -> Client:
        secret = create_token(user, "test").secret
        return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    return make


# The GitHub emulator and worker fixtures, for endpoints that start real work.
from tests.github_data.conftest import (  # noqa: E402,F401
    app_key_pem,
    github_stack,
    make_emulator,
)
