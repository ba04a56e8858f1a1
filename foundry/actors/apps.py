from importlib import import_module

from django.apps import AppConfig
from django.conf import settings


class ActorsConfig(AppConfig):
    name = "foundry.actors"
    label = "actors"
    verbose_name = "Actor runtime"

    def ready(self) -> None:
        from foundry.actors import checks  # noqa: F401  (registers the system checks)

        # Actor types register themselves on import; product apps import
        # their commands module from their own ready(). Extra modules are how
        # tests and benchmarks bring actor types into worker processes.
        for module in settings.FOUNDRY_ACTOR_EXTRA_MODULES:
            import_module(module)
