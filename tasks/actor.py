"""The task actor: task record, sessions, transcripts, git and PR state.

Keyed by organization and task id (task ids are unique in an organization's
task index, which says which repository a task belongs to). An actor exists
only once a person acted on the task (lazy materialization): syncs and
webhooks write the organization's task index, never a task actor.
"""

from foundry.actors import ActorType

task = ActorType("task", key_fields=("org", "task"))
