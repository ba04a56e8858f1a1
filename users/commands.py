"""Commands of the user actor. Each is one short step: a sign-in, one
membership change, preferences. Membership changes are recorded in the audit
log and pushed live to the person's own group."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from audit_log.append import append
from audit_log.models import AuditKind
from foundry.actors.context import CommandContext
from foundry.live import publish_on_commit, user_group
from users.actor import user
from users.models import Membership, MembershipRole, UserProfile
from users.schemas import MembershipChangeIn, PreferencesIn, SignInIn


def _user_id(ctx: CommandContext) -> int:
    return int(ctx.key_fields["user"])


def _login(user_id: int) -> str:
    return (
        UserProfile.objects.filter(user_id=user_id).values_list("login", flat=True).first()
        or f"user {user_id}"
    )


def _gain(
    user_id: int, login: str, org: str, role: str, source: str, *, set_role: bool = True
) -> bool:
    """Create one membership, or update its role when ``set_role`` (the
    member sync and webhooks do not know roles: only a sign-in sets them).
    True when it is new."""
    row, created = Membership.objects.get_or_create(
        user_id=user_id, org=org, defaults={"role": role}
    )
    if created:
        append(AuditKind.MEMBERSHIP_GAINED, actor=login, org=org, target=login,
               details={"role": role, "source": source})
    elif set_role and row.role != role:
        row.role = role
        row.save(update_fields=["role"])
    return created


def _lose(user_id: int, login: str, org: str, source: str) -> bool:
    deleted, _ = Membership.objects.filter(user_id=user_id, org=org).delete()
    if deleted:
        append(AuditKind.MEMBERSHIP_LOST, actor=login, org=org, target=login,
               details={"source": source})
    return bool(deleted)


@user.command("user.command.sign_in", payload=SignInIn)
def sign_in(ctx: CommandContext, payload: SignInIn) -> dict[str, Any]:
    """The profile as GitHub gave it, and memberships set to exactly the
    organizations GitHub listed (the personal account included)."""
    user_id = _user_id(ctx)

    def save() -> dict[str, Any]:
        UserProfile.objects.update_or_create(
            user_id=user_id,
            defaults={
                "github_id": payload.github_id, "login": payload.login, "name": payload.name,
                "avatar_url": payload.avatar_url, "email": payload.email,
                "signed_in_at": timezone.now(), "updated_at": timezone.now(),
            },
        )
        wanted = {m.org: m.role.value for m in payload.memberships}
        gained = [
            org for org, role in wanted.items()
            if _gain(user_id, payload.login, org, role, "sign-in")
        ]
        stale = Membership.objects.filter(user_id=user_id).exclude(org__in=wanted)
        lost = [
            org for org in stale.values_list("org", flat=True)
            if _lose(user_id, payload.login, org, "sign-in")
        ]
        if gained or lost:
            publish_on_commit(user_group(user_id), "memberships.changed",
                              {"gained": gained, "lost": lost})
        return {"orgs": sorted(wanted), "gained": gained, "lost": lost}

    return ctx.step("save", save)


@user.command("user.command.change_membership", payload=MembershipChangeIn)
def change_membership(ctx: CommandContext, payload: MembershipChangeIn) -> dict[str, Any]:
    """One organization's member sync or member webhook: the person joined
    or left it. A personal account is never left this way."""
    user_id = _user_id(ctx)

    def apply() -> dict[str, Any]:
        login = _login(user_id)
        if payload.member:
            changed = _gain(
                user_id, login, payload.org, payload.role.value, payload.source, set_role=False
            )
        elif payload.role == MembershipRole.PERSONAL:
            changed = False
        else:
            changed = _lose(user_id, login, payload.org, payload.source)
        if changed:
            key = "gained" if payload.member else "lost"
            publish_on_commit(user_group(user_id), "memberships.changed", {key: [payload.org]})
        return {"org": payload.org, "member": payload.member, "changed": changed}

    return ctx.step("apply", apply)


@user.command("user.command.set_preferences", payload=PreferencesIn)
def set_preferences(ctx: CommandContext, payload: PreferencesIn) -> dict[str, Any]:
    user_id = _user_id(ctx)

    def save() -> dict[str, Any]:
        changes = payload.model_dump(exclude_none=True)
        if changes:
            UserProfile.objects.filter(user_id=user_id).update(
                **changes, updated_at=timezone.now()
            )
        return changes

    return ctx.step("save", save)
