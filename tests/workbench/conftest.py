"""Fixtures of the workbench tests: the task fixtures (emulator, sandboxes,
workers, people who signed in) and websocket clients of a live ASGI app."""

from tests.sessions.conftest import ws_clients  # noqa: F401  (a fixture)
from tests.tasks.conftest import (  # noqa: F401  (fixtures used here)
    app_key_pem,
    github_stack,
    make_emulator,
    sandbox_stack,
    task_stack,
)
