"""The sandbox actor: one per task (its id is the task's id).

Its commands are declared in ``sandboxes/commands.py``, its reads in
``sandboxes/reads.py``.
"""

from foundry.actors import ActorType

sandbox = ActorType("sandbox", key_fields=("org", "sandbox"))
