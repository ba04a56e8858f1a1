"""Git credentials for a clone, in the environment of one git process.

The token goes into an ``http.<origin>/.extraHeader`` entry given through
git's ``GIT_CONFIG_COUNT`` / ``GIT_CONFIG_KEY_n`` / ``GIT_CONFIG_VALUE_n``
variables: never in the URL (so not in ``.git/config``, not in git's
messages), never in argv (so not in a process list), never in a file. Only
requests to the clone URL's own origin carry it.
"""

from __future__ import annotations

import base64
from urllib.parse import urlsplit


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise ValueError("a clone URL must not carry credentials; pass the token separately")
    return f"{parts.scheme}://{parts.netloc}/"


def git_auth_env(clone_url: str, token: str) -> dict[str, str]:
    """Variables that make git authenticate to ``clone_url``'s origin as a
    GitHub App installation (``x-access-token``); empty without a token."""
    origin = origin_of(clone_url)
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_COUNT": "0"}
    if not token:
        return env
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    env.update(
        GIT_CONFIG_COUNT="1",
        GIT_CONFIG_KEY_0=f"http.{origin}.extraHeader",
        GIT_CONFIG_VALUE_0=f"Authorization: Basic {basic}",
    )
    return env
