"""The user actor: profile, memberships, preferences (``user.command.*``).

Keyed by the Django user id. It is the only writer of ``Membership`` and
``UserProfile``: the sign-in pipeline and the github-data member sync send
it commands. Its queue is its own, so a sign-in never waits behind a sync
(which keeps the github-data and organization queues busy).
"""

from __future__ import annotations

from foundry.actors import ActorType
from foundry.actors.handles import ActorHandle

user = ActorType("user", key_fields=("user",))


def user_handle(user_id: int) -> ActorHandle:
    return user.get_or_create(user=str(user_id), create_with_input={"user": user_id})
