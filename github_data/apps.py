from django.apps import AppConfig


class GithubDataConfig(AppConfig):
    name = "github_data"
    verbose_name = "GitHub data"

    def ready(self) -> None:
        from github_data import actor  # noqa: F401  (registers the actor type)
