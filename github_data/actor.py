"""The github-data actor: the organization's GitHub cache and full sync.

Its commands are declared in ``github_data/commands.py``.
"""

from foundry.actors import ActorType

github_data = ActorType("github_data", key_fields=("org",))
