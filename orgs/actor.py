"""The organization actor: profile, repositories, task index, summaries.

Its commands are declared in ``orgs/commands.py``.
"""

from foundry.actors import ActorType

organization = ActorType("organization", key_fields=("org",))
