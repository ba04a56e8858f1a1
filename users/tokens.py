"""Personal access tokens: created for a person, shown once, kept hashed.

A token is ``fdy_`` and 40 random URL-safe characters; the database keeps
its SHA-256 digest (a fast hash is right for random secrets of this
length: nothing to brute-force), its first characters to tell tokens apart,
an expiry and a last-used time. A token acts as its person, limited to the
person's organizations like every request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import User
from django.db.models import Q
from django.utils import timezone

from users.token_models import PersonalAccessToken

TOKEN_PREFIX = "fdy_"
DEFAULT_DAYS = 90
MAX_DAYS = 366
# last_used_at is written at most this often per token: a busy script does
# not turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(ValueError):
    """A token cannot be created or revoked as asked (the message says why)."""


@dataclass(frozen=True)
class NewToken:
    record: PersonalAccessToken
    secret: str  # shown once, never stored


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(user: User, name: str, days: int = DEFAULT_DAYS) -> NewToken:
    name = name.strip()
    if not name or len(name) > 100:
        raise TokenError("a token needs a name of 1 to 100 characters")
    if not 1 <= days <= MAX_DAYS:
        raise TokenError(f"a token lives 1 to {MAX_DAYS} days, not {days}")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(30)
    record = PersonalAccessToken.objects.create(
        user=user, name=name, prefix=secret[:12], digest=digest_of(secret),
        expires_at=timezone.now() + timedelta(days=days),
    )
    return NewToken(record, secret)


def authenticate(secret: str) -> PersonalAccessToken | None:
    """The live token with this secret (not revoked, not expired, of an
    active person), or None."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    now = timezone.now()
    token = (
        PersonalAccessToken.objects.select_related("user")
        .filter(digest=digest_of(secret), revoked_at__isnull=True, expires_at__gt=now,
                user__is_active=True)
        .first()
    )
    if token is None:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        PersonalAccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def tokens_of(user: User) -> list[PersonalAccessToken]:
    return list(PersonalAccessToken.objects.filter(user=user).order_by("-created_at", "-pk"))


def revoke_token(user: User, token_id: int) -> PersonalAccessToken:
    """Revoke one of ``user``'s tokens (revoking twice is harmless)."""
    token = PersonalAccessToken.objects.filter(user=user, pk=token_id).first()
    if token is None:
        raise TokenError(f"{user.username} has no token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def live_tokens() -> Q:
    return Q(revoked_at__isnull=True, expires_at__gt=timezone.now())
