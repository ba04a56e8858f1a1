"""People's GitHub tokens, encrypted at rest.

Keys come from ``FOUNDRY_TOKEN_KEYS`` (comma-separated Fernet keys; the first
encrypts, all decrypt), so a key is rotated by putting a new one first,
running ``manage.py rotate_token_keys`` (re-encrypts every token with the
first key), then dropping the old one. Without the setting (the embedded
default) one key is derived from ``SECRET_KEY``.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.utils import timezone

from users.models import GitHubCredential


class NoGitHubToken(Exception):
    """The person has no usable GitHub token: they must sign in again."""


def _fernet() -> MultiFernet:
    keys: list[str] = list(settings.FOUNDRY_TOKEN_KEYS)
    if not keys:
        digest = hashlib.sha256(f"foundry-token-key:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt(token: str) -> str:
    return _fernet().encrypt(token.encode()).decode()


def decrypt(ciphertext: str) -> str:
    return _fernet().decrypt(ciphertext.encode()).decode()


def store_github_token(user_id: int, token: str, scopes: str = "") -> None:
    GitHubCredential.objects.update_or_create(
        user_id=user_id,
        defaults={
            "token_ciphertext": encrypt(token), "scopes": scopes, "updated_at": timezone.now(),
        },
    )


def github_token(user_id: int) -> str:
    """The person's GitHub token, decrypted. Raises ``NoGitHubToken`` when
    there is none or no configured key opens it."""
    ciphertext = (
        GitHubCredential.objects.filter(user_id=user_id)
        .values_list("token_ciphertext", flat=True).first()
    )
    if ciphertext is None:
        raise NoGitHubToken(f"user {user_id} has no GitHub token; they must sign in")
    try:
        return decrypt(ciphertext)
    except InvalidToken as exc:
        raise NoGitHubToken(
            f"the GitHub token of user {user_id} cannot be decrypted with FOUNDRY_TOKEN_KEYS;"
            " they must sign in again"
        ) from exc


def rotate_all() -> int:
    """Re-encrypt every stored token with the first key. Returns how many."""
    fernet = _fernet()
    rotated = 0
    for credential in GitHubCredential.objects.all():
        credential.token_ciphertext = fernet.rotate(credential.token_ciphertext.encode()).decode()
        credential.save(update_fields=["token_ciphertext"])
        rotated += 1
    return rotated
