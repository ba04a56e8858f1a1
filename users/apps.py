from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"

    def ready(self) -> None:
        # Register the actor type, its commands and reads.
        from users import actor, commands, feed_commands, reads  # noqa: F401
