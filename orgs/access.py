"""Who may see an organization: its members (``users.Membership``).

Every page, API endpoint and websocket goes through here; another
organization's objects answer 404, never a hint that they exist.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import Http404

from users.models import Membership


def user_is_member(user: AbstractBaseUser | AnonymousUser, org_id: str) -> bool:
    if not user.is_authenticated:
        return False
    return Membership.objects.filter(user_id=user.pk, org=org_id).exists()


def member_org_ids(user: AbstractBaseUser | AnonymousUser) -> list[str]:
    if not user.is_authenticated:
        return []
    return list(
        Membership.objects.filter(user_id=user.pk).order_by("org").values_list("org", flat=True)
    )


def require_member(user: AbstractBaseUser | AnonymousUser, org_id: str) -> None:
    """404 unless ``user`` is a member of ``org_id``."""
    if not user_is_member(user, org_id):
        raise Http404("no such organization")
