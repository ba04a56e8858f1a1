"""``python -m sandboxes.demo_agent``: ACP over stdin/stdout."""

import asyncio

from acp import run_agent

from sandboxes.demo_agent.agent import DemoAgent

asyncio.run(run_agent(DemoAgent()))
