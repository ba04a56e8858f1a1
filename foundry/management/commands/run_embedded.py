"""Run Foundry on the embedded default: one process, nothing to install.

Migrates the SQLite database, makes sure an admin account exists, starts the
in-process worker and serves the ASGI app on 127.0.0.1:8000.
"""

from __future__ import annotations

import secrets
from typing import Any

import uvicorn
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from foundry.actors.inprocess import start_inprocess_worker


class Command(BaseCommand):
    help = "Run Foundry embedded: SQLite, in-process worker, web server."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--concurrency", type=int, default=4, help="worker threads")

    def handle(self, *args: Any, host: str, port: int, concurrency: int, **options: Any) -> None:
        if settings.FOUNDRY_WORKER_MODE != "inprocess":
            raise CommandError(
                "run_embedded runs the worker in-process, which needs the memory:// broker; "
                f"CELERY_BROKER_URL is {settings.CELERY_BROKER_URL!r}. Unset it, or run "
                "the production shape (see README: celery worker + celery beat + uvicorn)."
            )
        call_command("migrate", interactive=False, verbosity=0)
        password = self._ensure_admin()
        start_inprocess_worker(concurrency=concurrency)
        self.stdout.write(self.style.SUCCESS(f"Foundry on http://{host}:{port}/"))
        self.stdout.write(f"  admin:    http://{host}:{port}/admin/  (user admin, {password})")
        self.stdout.write(f"  database: {settings.DATABASES['default']['NAME']}")
        uvicorn.run("foundry.asgi:application", host=host, port=port, log_level="info")

    def _ensure_admin(self) -> str:
        """An admin for the local run; its password is kept in the data dir."""
        secret_file = settings.DATA_DIR / "admin-password.txt"
        user_model = get_user_model()
        if user_model.objects.filter(username="admin").exists() and secret_file.exists():
            return f"password in {secret_file}"
        password = secrets.token_urlsafe(12)
        user, _ = user_model.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        secret_file.write_text(password + "\n")
        secret_file.chmod(0o600)
        return f"password {password}, kept in {secret_file}"
