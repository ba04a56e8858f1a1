"""The session tests' stack (a synced task, real workers, the stream
consumer, websocket clients on the real ASGI app), shared here."""

from tests.sessions.conftest import (  # noqa: F401  (fixtures used here)
    app_key_pem,
    github_stack,
    make_emulator,
    sandbox_stack,
    task_stack,
    ws_clients,
)
