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

from users.token_models import PersonalAccessToken

__all__ = ["GitHubCredential", "Membership", "MembershipRole", "PersonalAccessToken"]


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
