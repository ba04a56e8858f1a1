"""``python -m sandboxes.demo_agent``: ACP over stdin/stdout."""

import asyncio

from acp import run_agent

from sandboxes.demo_agent.agent import DemoAgent

# DemoAgent implements the ACP methods it needs; the SDK answers the rest
# "method not found".
asyncio.run(run_agent(DemoAgent()))  # type: ignore[arg-type]
