from django.apps import AppConfig


class FoundryConfig(AppConfig):
    name = "foundry"
    verbose_name = "Foundry"
