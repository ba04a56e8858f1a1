from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"

    def ready(self) -> None:
        # Register the actor type, its commands and reads.
        from tasks import actor, commands, reads, session_commands  # noqa: F401
