"""Where the sandbox-agent binary is: fetched by ``scripts/bootstrap`` (npm
package ``@sandbox-agent/cli-linux-x64``, checksum pinned there) into
``.cache/``, or wherever ``FOUNDRY_SANDBOX_AGENT_BIN`` points."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings

# Keep in step with scripts/bootstrap, which fetches this version.
SANDBOX_AGENT_VERSION = "0.4.2"


class SandboxAgentBinaryMissing(RuntimeError):
    pass


def sandbox_agent_binary() -> Path:
    path = Path(settings.FOUNDRY_SANDBOX_AGENT_BIN)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise SandboxAgentBinaryMissing(
            f"the sandbox-agent binary is not at {path}: run scripts/bootstrap (it fetches "
            f"@sandbox-agent/cli-linux-x64@{SANDBOX_AGENT_VERSION} with npm), or set "
            "FOUNDRY_SANDBOX_AGENT_BIN"
        )
    return path
