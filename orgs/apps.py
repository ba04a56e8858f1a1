from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "orgs"
    verbose_name = "Organizations"

    def ready(self) -> None:
        # Register the actor type, its commands and reads.
        from orgs import actor, commands, reads  # noqa: F401
