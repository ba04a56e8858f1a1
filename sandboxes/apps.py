from django.apps import AppConfig


class SandboxesConfig(AppConfig):
    name = "sandboxes"

    def ready(self) -> None:
        # Register the actor type, its commands and reads.
        from sandboxes import actor, commands, reads  # noqa: F401
