"""Members on GitHub → memberships in Foundry, through the user actor.

The member sync and the member webhooks know who belongs to an organization
on GitHub; ``users.Membership`` (what access checks read) is the user
actor's table. So github-data reads the memberships (a plain read), works
out who joined and who left, and sends each affected person's user actor a
command. Only people who signed in once have a user actor; the others get
their memberships at their first sign-in. A personal account has no member
list and is never touched here.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from users.actor import user_handle
from users.models import Membership, MembershipRole

CHANGE = "user.command.change_membership"


def _send(user_id: int, org: str, *, member: bool, source: str) -> None:
    user_handle(user_id).send(
        CHANGE, {"org": org, "member": member, "role": MembershipRole.MEMBER, "source": source}
    )


def reconcile_members(org: str, logins: set[str]) -> dict[str, list[str]]:
    """After a member sync: ``logins`` are every member GitHub listed."""
    if org.startswith("personal-"):
        return {"gained": [], "lost": []}
    current = dict(
        Membership.objects.filter(org=org)
        .exclude(role=MembershipRole.PERSONAL)
        .values_list("user__username", "user_id")
    )
    lost = sorted(set(current) - logins)
    for login in lost:
        _send(current[login], org, member=False, source="member sync")
    joined = (
        get_user_model().objects.filter(username__in=logins - set(current))
        .values_list("username", "pk")
    )
    gained = []
    for login, user_id in joined:
        _send(user_id, org, member=True, source="member sync")
        gained.append(login)
    return {"gained": sorted(gained), "lost": lost}


def member_changed(org: str, login: str, *, member: bool) -> bool:
    """A member webhook for one person; False when they never signed in."""
    if org.startswith("personal-"):
        return False
    user_id = (
        get_user_model().objects.filter(username=login).values_list("pk", flat=True).first()
    )
    if user_id is None:
        return False
    _send(user_id, org, member=member, source="member webhook")
    return True
