"""The organization pages: the person's organizations, and one of them.

Both start from a plain read (``app_snapshot``, ``organization_snapshot``)
and check membership first (``orgs.access``): another organization's page
is a 404, with no hint that it exists.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from orgs.access import require_member
from orgs.reads import app_snapshot, organization_snapshot
from users.actor import user_handle
from users.models import Membership, UserProfile


@login_required
@require_GET
def organizations(request: HttpRequest) -> HttpResponse:
    return render(request, "orgs.html", {"app": app_snapshot(request.user)})


@login_required
@require_GET
def organization(request: HttpRequest, org_id: str) -> HttpResponse:
    require_member(request.user, org_id)
    user_id: int = request.user.pk  # type: ignore[assignment]  # signed in: set
    _remember_last_org(user_id, org_id)
    role = _role(user_id, org_id)
    return render(request, "org.html", {
        "app": app_snapshot(request.user),
        "org": organization_snapshot(org_id, role=role),
        "install_url": settings.GITHUB_APP_INSTALL_URL,
        "demo_emulator_url": settings.FOUNDRY_DEMO_EMULATOR_URL,
    })


def _role(user_id: int, org_id: str) -> str:
    return (
        Membership.objects.filter(user_id=user_id, org=org_id)
        .values_list("role", flat=True).first() or ""
    )


def _remember_last_org(user_id: int, org_id: str) -> None:
    """A preference of the user actor: sent (fire and forget) only when it
    changes, so reloading a page sends nothing."""
    last = UserProfile.objects.filter(user_id=user_id).values_list("last_org", flat=True).first()
    if last != org_id:
        user_handle(user_id).send("user.command.set_preferences", {"last_org": org_id})
