from django.apps import AppConfig


class GithubDataConfig(AppConfig):
    name = "github_data"
    verbose_name = "GitHub data"

    def ready(self) -> None:
        # Register the actor type and its commands.
        from github_data import actor, commands  # noqa: F401
