"""The sign-in pipeline's own steps (social-auth runs them in order; see
``SOCIAL_AUTH_PIPELINE`` in settings).

``username_is_login``: Django's username is the GitHub login (other code
looks people up by it). ``record_sign_in``: the token stored encrypted, the
person's organizations and the App's installations fetched from GitHub,
staff from ``FOUNDRY_ADMIN_LOGINS``, then the user actor records the
sign-in (the only command the sign-in waits for: its queue is the user
actor's own, never behind a sync), and each organization hears what the
sign-in saw (fire and forget).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from social_core.exceptions import AuthAssociationError, AuthResponseError

from audit_log.append import append
from audit_log.models import AuditKind
from foundry.actors.models import Command, CommandStatus
from github_data.actor import github_data
from github_data.models import SyncState
from orgs.actor import organization
from orgs.models import InstallationStatus, OrganizationKind
from users.actor import user_handle
from users.credentials import store_github_token
from users.signin_github import AccountSeen, accounts_of, with_installations

log = logging.getLogger(__name__)

FULL_SYNC = "github_data.command.full_sync"


def username_is_login(
    backend: Any, details: dict[str, Any], response: dict[str, Any], user: Any = None,
    *args: Any, **kwargs: Any,
) -> dict[str, Any]:
    """Social-auth would invent a fresh username on a clash; ours is the
    login, always. A local account already holding that name (the embedded
    admin) is not GitHub's person: refuse rather than merge them."""
    login = str(response.get("login") or details.get("username") or "")
    if not login:
        raise AuthResponseError(backend, code="missing_claim", claim="login")
    if user is None and get_user_model().objects.filter(username=login).exists():
        raise AuthAssociationError(backend)
    return {"username": login}


def record_sign_in(
    backend: Any, user: Any, response: dict[str, Any], *args: Any, **kwargs: Any
) -> None:
    login = str(response["login"])
    token = str(response["access_token"])
    store_github_token(user.pk, token, str(response.get("scope") or ""))
    accounts = with_installations(accounts_of(token, login, response.get("avatar_url") or ""))
    _make_staff(user, login)
    user_handle(user.pk).send(
        "user.command.sign_in",
        {
            "github_id": response.get("id"),
            "login": login,
            "name": response.get("name") or "",
            "avatar_url": response.get("avatar_url") or "",
            "email": response.get("email") or "",
            "memberships": [{"org": a.org_id, "role": a.role} for a in accounts],
        },
        wait=True,
        timeout=settings.FOUNDRY_SIGNIN_WAIT_SECONDS,
    )
    for account in accounts:
        _tell_organization(account)
    append(AuditKind.SIGN_IN, actor=login, target=login,
           details={"orgs": [a.org_id for a in accounts]})


def _make_staff(user: Any, login: str) -> None:
    """Staff (the admin) is exactly the logins ``FOUNDRY_ADMIN_LOGINS`` names."""
    staff = login in settings.FOUNDRY_ADMIN_LOGINS
    if user.is_staff != staff:
        user.is_staff = staff
        user.save(update_fields=["is_staff"])


def _tell_organization(account: AccountSeen) -> None:
    handle = organization.get_or_create(
        org=account.org_id, create_with_input={"org": account.org_id}
    )
    handle.send(
        "organization.command.seen_at_sign_in",
        {
            "login": account.login,
            "avatar_url": account.avatar_url,
            "kind": OrganizationKind.PERSONAL if account.personal
            else OrganizationKind.ORGANIZATION,
            "installation_checked": account.installation_checked,
            "installation_id": account.installation_id,
            "suspended": account.suspended,
        },
    )
    if account.installation_id is not None and not account.suspended:
        _sync_if_never_synced(account)


def _sync_if_never_synced(account: AccountSeen) -> None:
    """An installation Foundry never synced (its webhook never reached
    us, or came before this deployment): the first sign-in starts it."""
    if SyncState.objects.filter(org=account.org_id).exists():
        return
    handle = github_data.get_or_create(
        org=account.org_id, create_with_input={"org": account.org_id}
    )
    pending = Command.objects.filter(
        instance_id=handle.instance_id, name=FULL_SYNC,
        status__in=(CommandStatus.QUEUED, CommandStatus.RUNNING, CommandStatus.WAITING),
    ).exists()
    if pending:
        return
    handle.send(FULL_SYNC, {
        "org": account.org_id, "installation_id": account.installation_id,
        "connected_account": account.login, "installation_status": InstallationStatus.INSTALLED,
    })
