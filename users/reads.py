"""Read actions of the user actor: plain queries, run in the caller."""

from __future__ import annotations

from foundry.actors.handles import ActorHandle
from users.actor import user
from users.models import UserProfile


@user.read("user.read.profile")
def profile(handle: ActorHandle) -> UserProfile | None:
    return UserProfile.objects.filter(user_id=int(handle.fields["user"])).first()
