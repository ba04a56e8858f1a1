"""What the sandbox and session benchmarks share: pointing this process
(and the workers it starts) at a GitHub emulator they run, with local
sandboxes in a scratch directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings


def use_emulator(emulator: Any, scratch: Path) -> dict[str, str]:
    """Point settings at ``emulator``, sandboxes under ``scratch``; returns
    the same as environment variables for child processes."""
    env = {
        "GITHUB_API_URL": emulator.base_url,
        "GITHUB_APP_ID": str(emulator.app_id),
        "GITHUB_APP_PRIVATE_KEY_PATH": str(emulator.write_private_key(scratch / "app.pem")),
        "FOUNDRY_SANDBOX_DIR": str(scratch / "sandboxes"),
        "FOUNDRY_SANDBOX_PROVIDER": "local",
    }
    for name, value in env.items():
        setattr(settings, name, Path(value) if name.endswith("_DIR") else value)
    settings.GITHUB_APP_PRIVATE_KEY = None
    return env
