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
from foundry.actors.presence import forget_presence
from sandboxes.keepalive import start_embedded_keep_alive
from tasks.stream_consumer import start_stream_consumer


class Command(BaseCommand):
    help = "Run Foundry embedded: SQLite, in-process worker, web server."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--concurrency", type=int, default=4, help="worker threads")
        parser.add_argument(
            "--no-emulator",
            action="store_true",
            help="do not start the local GitHub emulator (use the GITHUB_* settings)",
        )

    def handle(
        self, *args: Any, host: str, port: int, concurrency: int, no_emulator: bool, **options: Any
    ) -> None:
        if settings.FOUNDRY_WORKER_MODE != "inprocess":
            raise CommandError(
                "run_embedded runs the worker in-process, which needs the memory:// broker; "
                f"CELERY_BROKER_URL is {settings.CELERY_BROKER_URL!r}. Unset it, or run "
                "the production shape (see README: celery worker + celery beat + uvicorn)."
            )
        call_command("migrate", interactive=False, verbosity=0)
        password = self._ensure_admin()
        start_inprocess_worker(concurrency=concurrency)
        start_embedded_keep_alive()  # beat's sandbox keep-alive, as a thread here
        start_stream_consumer()  # the agents' event streams, as threads here
        if not no_emulator:
            self._start_demo_github(f"http://{host}:{port}/github/webhook")
        self.stdout.write(self.style.SUCCESS(f"Foundry on http://{host}:{port}/"))
        self.stdout.write(f"  admin:    http://{host}:{port}/admin/  (user admin, {password})")
        self.stdout.write(f"  database: {settings.DATABASES['default']['NAME']}")
        try:
            uvicorn.run("foundry.asgi:application", host=host, port=port, log_level="info")
        finally:
            # Stopped (Ctrl-C): management commands in other terminals should
            # hear "no worker" now, not after the presence row goes stale.
            forget_presence()

    def _start_demo_github(self, webhook_url: str) -> None:
        """The local GitHub emulator with the demo organizations (acme and
        initech with the App, globex without it, and the people around them),
        Foundry's GitHub settings pointed at it, and a first full sync queued
        for each organization with the App."""
        from urllib.parse import urlsplit

        from github_data.actor import github_data
        from github_data.emulator import DEMO_ORGS, EmulatorConfig, GitHubEmulator

        api = urlsplit(settings.GITHUB_API_URL)
        emulator = GitHubEmulator(
            EmulatorConfig(
                **DEMO_ORGS,
                host=api.hostname or "127.0.0.1",
                port=api.port or 8765,
                data_dir=settings.DATA_DIR / "github-emulator",
                webhook_url=webhook_url,
                webhook_secret=settings.GITHUB_WEBHOOK_SECRET,
            )
        ).start()
        key = emulator.write_private_key(settings.DATA_DIR / "github-emulator" / "app.pem")
        settings.GITHUB_APP_ID = str(emulator.app_id)
        settings.GITHUB_APP_PRIVATE_KEY_PATH = str(key)
        # "Sign in with GitHub" goes to the emulator's page, which lets a
        # newcomer pick one of the demo people.
        settings.GITHUB_OAUTH_CLIENT_ID = emulator.oauth_client_id
        settings.GITHUB_OAUTH_CLIENT_SECRET = emulator.oauth_client_secret
        settings.FOUNDRY_DEMO_EMULATOR_URL = emulator.base_url
        synced = []
        for org in emulator.orgs:
            installation_id = emulator.installation_id_for(org)
            if installation_id is None:
                continue  # globex: the App is not installed there
            github_data.get_or_create(org=org, create_with_input={"org": org}).send(
                "github_data.command.full_sync",
                {"org": org, "installation_id": installation_id},
            )
            synced.append(org)
        self.stdout.write(
            f"  GitHub:   emulator on {emulator.base_url}, organizations {emulator.orgs} "
            f"(syncing {synced}); people {emulator.dataset.people}"
        )

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
