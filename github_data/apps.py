from django.apps import AppConfig


class GithubDataConfig(AppConfig):
    name = "github_data"
