"""The user actor's tables (more come with the sign-in work).

``Membership`` says which organizations a person may see and act on: it is
what every page, API endpoint and websocket checks (``orgs/access.py``).
``GitHubCredential`` holds the person's GitHub token, encrypted at rest
(``users/credentials.py``): git push and PR creation done for that person
use it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from users.feed_models import Notification, NotificationKind, SessionReadState, TaskAttention
from users.token_models import PersonalAccessToken

__all__ = ["GitHubCredential", "Membership", "MembershipRole", "Notification",
           "NotificationKind", "PersonalAccessToken", "SessionReadState", "TaskAttention"]


class MembershipRole(models.TextChoices):
    ADMIN = "admin"
    MEMBER = "member"
    # The person's own account (organization id ``personal-<login>``).
    PERSONAL = "personal"


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    org = models.CharField(max_length=100)
    role = models.CharField(
        max_length=16, choices=MembershipRole.choices, default=MembershipRole.MEMBER
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "org"], name="membership_unique_user_org")
        ]
        indexes = [models.Index(fields=["org"], name="membership_by_org")]

    def __str__(self) -> str:
        return f"{self.user} in {self.org} ({self.role})"


class GitHubCredential(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="github_credential"
    )
    # Fernet token of the GitHub access token; never the token itself.
    token_ciphertext = models.TextField()
    scopes = models.CharField(max_length=300, blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"GitHub credential of {self.user}"


class UserProfile(models.Model):
    """The person as GitHub last described them at sign-in, and their
    preferences. One row per user (the one-to-one key enforces it)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    github_id = models.BigIntegerField(null=True, blank=True)
    login = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200, blank=True, default="")
    avatar_url = models.URLField(max_length=500, blank=True, default="")
    email = models.EmailField(blank=True, default="")
    # Preferences: the agent and model a new session starts with, and where
    # the person was last (``/`` reopens it).
    default_agent = models.CharField(max_length=64, blank=True, default="")
    default_model = models.CharField(max_length=128, blank=True, default="")
    last_org = models.CharField(max_length=100, blank=True, default="")
    last_task = models.CharField(max_length=200, blank=True, default="")
    signed_in_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.login


class OAuthCallback(models.Model):
    """Each OAuth ``state`` that reached the callback, once (the unique
    state): proxies retry slow callbacks, and the retry must find the first
    one's outcome instead of spending the code again. Written by the web
    request itself, not the user actor: sign-in must not queue."""

    state = models.CharField(max_length=128, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True
    )
    succeeded = models.BooleanField(null=True)  # None while the first one runs
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="oauth_callback_by_age")]

    def __str__(self) -> str:
        return f"OAuth callback {self.state[:8]}…"
