from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from users.credentials import rotate_all


class Command(BaseCommand):
    help = "Re-encrypt every stored GitHub token with the first key of FOUNDRY_TOKEN_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"re-encrypted {rotate_all()} tokens with the first key")
