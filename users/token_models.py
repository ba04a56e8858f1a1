"""Personal access tokens for the REST API (see ``users/tokens.py``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class PersonalAccessToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens"
    )
    name = models.CharField(max_length=100)
    # The token's first characters, shown in lists so a person can tell
    # tokens apart; the token itself is kept only as a SHA-256 digest.
    prefix = models.CharField(max_length=16)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"], name="access_token_by_user")]

    def __str__(self) -> str:
        # What the API's per-token rate limit keys on: never the secret.
        return f"token {self.pk} ({self.prefix}…) of {self.user_id}"
