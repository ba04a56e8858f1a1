"""GitHub tokens at rest: encrypted, readable back, rotated, refused when
no configured key opens them; membership decides access."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import AnonymousUser, User
from django.core.management import call_command
from django.http import Http404
from django.test import override_settings

from orgs.access import member_org_ids, require_member, user_is_member
from users.credentials import NoGitHubToken, github_token, store_github_token
from users.models import GitHubCredential, Membership

pytestmark = pytest.mark.django_db


def test_token_is_encrypted_at_rest_and_read_back() -> None:
    user = User.objects.create(username="alice")
    store_github_token(user.pk, "gho_secret123", scopes="read:org,repo")
    stored = GitHubCredential.objects.get(user=user).token_ciphertext
    assert "gho_secret123" not in stored
    assert github_token(user.pk) == "gho_secret123"
    with pytest.raises(NoGitHubToken, match="must sign in"):
        github_token(user.pk + 1000)


def test_rotation_re_encrypts_with_the_first_key() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    user = User.objects.create(username="bob")
    with override_settings(FOUNDRY_TOKEN_KEYS=[old]):
        store_github_token(user.pk, "gho_rotate")
    with override_settings(FOUNDRY_TOKEN_KEYS=[new, old]):
        call_command("rotate_token_keys")
    with override_settings(FOUNDRY_TOKEN_KEYS=[new]):
        assert github_token(user.pk) == "gho_rotate"
    with override_settings(FOUNDRY_TOKEN_KEYS=[old]), pytest.raises(NoGitHubToken):
        github_token(user.pk)


def test_only_members_see_an_organization() -> None:
    alice = User.objects.create(username="alice")
    bob = User.objects.create(username="bob")
    Membership.objects.create(user=alice, org="acme")
    Membership.objects.create(user=alice, org="initech")
    Membership.objects.create(user=bob, org="initech")
    assert member_org_ids(alice) == ["acme", "initech"]
    assert user_is_member(bob, "initech") and not user_is_member(bob, "acme")
    assert not user_is_member(AnonymousUser(), "acme")
    with pytest.raises(Http404):
        require_member(bob, "acme")
    require_member(alice, "acme")
