"""The deployment files and the embedded run say only true things."""

from __future__ import annotations

import importlib
import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml
from django.apps import apps
from django.conf import settings
from django.core.management import get_commands

from foundry.actors import ActorType

COMPOSE = Path(settings.BASE_DIR) / "compose.dev.yaml"


def product_actor_types() -> dict[str, ActorType]:
    found: dict[str, ActorType] = {}
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.actor")
        except ModuleNotFoundError:
            continue
        found.update({v.name: v for v in vars(module).values() if isinstance(v, ActorType)})
    return found


def test_compose_parses_and_names_real_commands() -> None:
    """Every service command in compose.dev.yaml exists: manage.py commands,
    the ASGI app, and worker queues of declared actor types; every product
    actor type has a worker, and there is a beat."""
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "beat"} <= set(services)
    known_queues = {t.queue for t in product_actor_types().values()} | {"maintenance"}
    served_queues: set[str] = set()
    for name, service in services.items():
        if "command" not in service:
            continue
        argv = shlex.split(service["command"])
        if argv[:2] == ["python", "manage.py"]:
            assert argv[2] in get_commands(), f"{name}: no manage.py command {argv[2]}"
        elif argv[0] == "uvicorn":
            module, attr = argv[1].split(":")
            assert callable(getattr(importlib.import_module(module), attr))
        elif argv[:4] == ["celery", "-A", "foundry", "worker"]:
            queues = argv[argv.index("-Q") + 1].split(",")
            assert set(queues) <= known_queues, f"{name}: unknown queue in {queues}"
            served_queues.update(queues)
        elif argv[:4] == ["celery", "-A", "foundry", "beat"]:
            pass
        else:
            raise AssertionError(f"{name}: unrecognised command {service['command']!r}")
    assert served_queues == known_queues, "every actor-type queue needs a worker"


def test_embedded_worker_runs_commands(tmp_path: Path) -> None:
    """With nothing configured (SQLite, memory:// broker), the in-process
    worker runs a command sent from the same process and the waiter wakes."""
    script = textwrap.dedent(
        """
        import django
        django.setup()
        from django.core.management import call_command
        call_command("migrate", verbosity=0)
        from foundry.actors.inprocess import start_inprocess_worker
        from tests.actor_types import probe
        start_inprocess_worker(concurrency=2)
        handle = probe.create(name="embedded")
        print("result", handle.send("probe.command.double", {"n": 21}, wait=True, timeout=30))
        """
    )
    env = {
        k: v for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "CELERY_RESULT_BACKEND"}
    }
    env.update(
        FOUNDRY_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="foundry.settings",
        FOUNDRY_ACTOR_EXTRA_MODULES="tests.actor_types",
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=settings.BASE_DIR, env=env,
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "result 42" in done.stdout
    assert (tmp_path / "foundry.sqlite3").exists()
