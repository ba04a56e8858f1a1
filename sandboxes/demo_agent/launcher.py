"""Installing the demo agent as a sandbox-agent launcher.

sandbox-agent runs an agent from
``$HOME/.local/share/sandbox-agent/bin/agent_processes/<agent>-acp`` and
reports it installed when that file is there. The demo agent takes the slot
of the built-in ``mock`` agent (the one agent id meant for a stand-in); the
real agents keep theirs. Verified with sandbox-agent 0.4.2.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

DEMO_AGENT_ID = "mock"
DEMO_AGENT_LABEL = "Demo agent"


def launcher_dir(home: Path) -> Path:
    return home / ".local" / "share" / "sandbox-agent" / "bin" / "agent_processes"


def install_demo_agent(home: Path, *, project_root: Path, python: str = sys.executable) -> Path:
    """Write the launcher (idempotent); returns its path."""
    path = launcher_dir(home) / f"{DEMO_AGENT_ID}-acp"
    path.parent.mkdir(parents=True, exist_ok=True)
    script = (
        "#!/bin/sh\n"
        "# Foundry's demo agent, installed by the local sandbox provider.\n"
        f"PYTHONPATH={shlex.quote(str(project_root))} "
        f"exec {shlex.quote(python)} -m sandboxes.demo_agent \"$@\"\n"
    )
    if not path.exists() or path.read_text() != script:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(script)
        tmp.chmod(0o755)
        tmp.replace(path)
    return path
