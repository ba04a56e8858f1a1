"""The demo agent's behaviour, one turn at a time.

A turn: a plan; a reply streamed in chunks with a short pause before each
(``FOUNDRY_DEMO_AGENT_PAUSE_SECONDS``, 0.05 s by default); a visible tool
call that reads the repository (its files, with the result); a permission
request before it writes. "allow" appends a line to ``README.md`` (or
creates ``DEMO_AGENT.md`` when there is none), so ``git status`` and the
diff are not empty; "deny" says so and ends the turn. Every turn reports its
token usage (words counted, cost zero) and ends with ``end_turn``.

Prompt words (tests use them):

- ``/slow`` makes the turn long: 60 more chunks, 0.25 s apart, before the
  permission request;
- ``/fail`` fails the turn with a JSON-RPC error after one chunk.

``session/cancel`` ends the turn at once with the stop reason
``cancelled``, whatever it was doing (streaming, or waiting for an answer
to its permission request).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

from acp import (
    Client,
    InitializeResponse,
    NewSessionResponse,
    PromptResponse,
    RequestError,
    plan_entry,
    start_read_tool_call,
    text_block,
    tool_content,
    tool_diff_content,
    update_agent_message_text,
    update_plan,
    update_tool_call,
)
from acp.schema import (
    AgentCapabilities,
    Cost,
    Implementation,
    PermissionOption,
    ToolCallLocation,
    ToolCallUpdate,
    Usage,
    UsageUpdate,
)

SLOW_WORD = "/slow"
FAIL_WORD = "/fail"
SLOW_CHUNKS = 60
SLOW_PAUSE_SECONDS = 0.25
CONTEXT_WINDOW = 200_000
NOTE = "\nA line added by Foundry's demo agent.\n"


def pause_seconds() -> float:
    return float(os.environ.get("FOUNDRY_DEMO_AGENT_PAUSE_SECONDS") or 0.05)


def _prompt_text(prompt: list[Any]) -> str:
    return "\n".join(str(getattr(block, "text", "") or "") for block in prompt)


def _repository_files(cwd: Path, limit: int = 50) -> list[str]:
    found: list[str] = []
    for root, dirs, files in os.walk(cwd):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(files):
            found.append(str((Path(root) / name).relative_to(cwd)))
            if len(found) >= limit:
                return found
    return found


class Turn:
    """One prompt of one session: the reply, the tool calls, the edit."""

    def __init__(self, conn: Client, session_id: str, cwd: Path, text: str) -> None:
        self.conn = conn
        self.session_id = session_id
        self.cwd = cwd
        self.text = text
        self.words_out = 0

    async def say(self, text: str) -> None:
        await asyncio.sleep(pause_seconds())
        self.words_out += len(text.split())
        await self.conn.session_update(self.session_id, update_agent_message_text(text))

    async def plan(self, *statuses: str) -> None:
        steps = ["Read the repository", "Propose a small change", "Write it, if allowed"]
        entries = [plan_entry(step, status=status) for step, status in zip(steps, statuses)]  # type: ignore[arg-type]
        await self.conn.session_update(self.session_id, update_plan(entries))

    async def run(self) -> PromptResponse:
        await self.plan("in_progress", "pending", "pending")
        await self.say("Hello! I am Foundry's demo agent. ")
        if FAIL_WORD in self.text:
            raise RequestError.internal_error(
                {"reason": f"the prompt asked the demo agent to fail ({FAIL_WORD})"}
            )
        await self.say("I work without a model, ")
        await self.say("so every answer of mine is the same. Let me read the repository.")
        files = await self.read_repository()
        await self.say(f" It has {len(files)} files here, {files[0] if files else 'none'} first.")
        if SLOW_WORD in self.text:
            for i in range(1, SLOW_CHUNKS + 1):
                await asyncio.sleep(SLOW_PAUSE_SECONDS)
                await self.say(f" Thinking slowly ({i}/{SLOW_CHUNKS}).")
        await self.plan("completed", "completed", "in_progress")
        target = self.cwd / "README.md"
        if not target.exists():
            target = self.cwd / "DEMO_AGENT.md"
        allowed = await self.ask_to_write(target)
        if allowed:
            await self.write(target)
            await self.plan("completed", "completed", "completed")
            await self.say(f" I added a line to {target.name}; git status shows it.")
        else:
            await self.say(" You denied the change, so I left the repository as it was.")
        return await self.finish()

    async def read_repository(self) -> list[str]:
        call_id = f"read-{uuid.uuid4().hex[:8]}"
        await self.conn.session_update(
            self.session_id,
            start_read_tool_call(call_id, "List the repository's files", str(self.cwd)),
        )
        await self.conn.session_update(
            self.session_id, update_tool_call(call_id, status="in_progress")
        )
        files = _repository_files(self.cwd)
        await self.conn.session_update(
            self.session_id,
            update_tool_call(
                call_id, status="completed",
                content=[tool_content(text_block("\n".join(files) or "(empty)"))],
                raw_output={"files": files},
            ),
        )
        return files

    async def ask_to_write(self, target: Path) -> bool:
        answer = await self.conn.request_permission(
            session_id=self.session_id,
            tool_call=ToolCallUpdate(
                tool_call_id=f"write-{uuid.uuid4().hex[:8]}",
                title=f"Add a line to {target.name}",
                kind="edit",
                status="pending",
                locations=[ToolCallLocation(path=str(target))],
            ),
            options=[
                PermissionOption(option_id="allow", name="Allow", kind="allow_once"),
                PermissionOption(option_id="deny", name="Deny", kind="reject_once"),
            ],
        )
        outcome = answer.outcome
        return getattr(outcome, "outcome", "") == "selected" and (
            getattr(outcome, "option_id", "") == "allow"
        )

    async def write(self, target: Path) -> None:
        old = target.read_text() if target.exists() else None
        new = (old or "") + NOTE
        target.write_text(new)
        call_id = f"edit-{uuid.uuid4().hex[:8]}"
        await self.conn.session_update(
            self.session_id,
            update_tool_call(
                call_id, title=f"Add a line to {target.name}", kind="edit", status="completed",
                content=[tool_diff_content(str(target), new, old)],
                locations=[ToolCallLocation(path=str(target))],
            ),
        )

    async def finish(self) -> PromptResponse:
        words_in = len(self.text.split())
        await self.conn.session_update(
            self.session_id,
            UsageUpdate(
                session_update="usage_update", used=words_in + self.words_out,
                size=CONTEXT_WINDOW, cost=Cost(amount=0.0, currency="USD"),
            ),
        )
        return PromptResponse(
            stop_reason="end_turn",
            usage=Usage(
                input_tokens=words_in, output_tokens=self.words_out,
                total_tokens=words_in + self.words_out,
            ),
        )


class DemoAgent:
    """The ACP side: sessions, prompts, cancel."""

    def __init__(self) -> None:
        self._conn: Client | None = None
        self._cwd: dict[str, Path] = {}
        self._turns: dict[str, asyncio.Task[PromptResponse]] = {}

    def on_connect(self, conn: Client) -> None:
        self._conn = conn

    async def initialize(
        self, protocol_version: int, client_capabilities: Any = None, client_info: Any = None,
        **kwargs: Any,
    ) -> InitializeResponse:
        return InitializeResponse(
            protocol_version=protocol_version,
            agent_capabilities=AgentCapabilities(load_session=False),
            agent_info=Implementation(name="foundry-demo-agent", title="Demo agent", version="1"),
        )

    async def new_session(
        self, cwd: str, additional_directories: Any = None, mcp_servers: Any = None,
        **kwargs: Any,
    ) -> NewSessionResponse:
        session_id = f"demo-{uuid.uuid4().hex[:12]}"
        self._cwd[session_id] = Path(cwd)
        return NewSessionResponse(session_id=session_id)

    async def prompt(self, session_id: str, prompt: list[Any], **kwargs: Any) -> PromptResponse:
        if self._conn is None or session_id not in self._cwd:
            raise RequestError.invalid_params({"sessionId": session_id, "reason": "unknown"})
        turn = Turn(self._conn, session_id, self._cwd[session_id], _prompt_text(prompt))
        task = asyncio.ensure_future(turn.run())
        self._turns[session_id] = task
        try:
            return await task
        except asyncio.CancelledError:
            if task.cancelled():
                return PromptResponse(stop_reason="cancelled")
            raise
        finally:
            self._turns.pop(session_id, None)

    async def cancel(self, session_id: str, **kwargs: Any) -> None:
        task = self._turns.get(session_id)
        if task is not None:
            task.cancel()
