"""The task's side of the agent transport: open a session's ACP server,
post a prompt without waiting for the turn, cancel, answer.

Promises: ``post_prompt`` returns once sandbox-agent has the prompt (or
raises what it answered at once: an unknown server, an unreachable one);
the turn runs on, and its end arrives on the session's stream, which the
stream consumer reads. The POST itself is held by a daemon thread until the
turn ends (sandbox-agent answers it then) and its answer is dropped: the
stream carries the same response. Verified with sandbox-agent 0.4.2: a
prompt whose POST is abandoned (the worker killed) runs to its end and its
response still comes on the stream.

Limits: a step that posts a prompt runs again if its worker dies after the
POST and before the step is recorded (at-least-once, like every step);
the agent then gets the prompt twice under the same JSON-RPC id.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from acp.schema import PromptRequest, TextContentBlock

from sandboxes.acp_client import AcpConnection, dump
from sandboxes.actor import sandbox
from sandboxes.agent_http import SandboxAgentClient

logger = logging.getLogger(__name__)

# A refusal from a local server (an unknown server, a bad request) comes
# back in a few milliseconds and is raised by the step; a later one (the
# server vanished meanwhile, a remote E2B sandbox) ends the turn through
# ``task.command.turn_finished``, sent by the thread holding the POST. The
# task's loop is held no longer than this per prompt.
PROMPT_ACCEPT_SECONDS = 0.01


@dataclass(frozen=True)
class OpenedSession:
    server_id: str
    acp_session_id: str
    generation: int
    server_epoch: int


def _sandbox(org: str, task_key: str) -> Any:
    return sandbox.get(org=org, sandbox=task_key)


def agent_client(org: str, task_key: str) -> SandboxAgentClient:
    client: SandboxAgentClient = _sandbox(org, task_key).read("sandbox.read.agent_client")
    return client


def open_acp_session(
    org: str, task_key: str, session_id: str, agent: str, generation: int
) -> OpenedSession:
    """A new ACP server for the session (its id names the session and the
    generation, so a server of an earlier generation is never reused with
    its old event numbers) and a session in the task's repository."""
    handle = _sandbox(org, task_key)
    described = handle.read("sandbox.read.get")
    server_id = f"{session_id}-{generation}"
    with agent_client(org, task_key) as client:
        conn = AcpConnection.open(client, agent, server_id=server_id)
        acp_session_id = conn.new_session(described.repo_path)
    return OpenedSession(server_id, acp_session_id, generation, described.server_epoch)


def server_is_known(org: str, task_key: str, server_id: str, agent: str) -> bool:
    with agent_client(org, task_key) as client:
        return AcpConnection(client, server_id, agent).is_known()


def post_prompt(
    org: str, task_key: str, session_id: str, server_id: str, acp_session_id: str,
    request_id: str, text: str,
) -> None:
    """Post ``session/prompt`` with ``request_id``; return once it is taken."""
    handle = _sandbox(org, task_key)
    described = handle.read("sandbox.read.get")
    envelope = {
        "jsonrpc": "2.0", "id": request_id, "method": "session/prompt",
        "params": dump(PromptRequest(
            session_id=acp_session_id, prompt=[TextContentBlock(type="text", text=text)]
        )),
    }
    client = agent_client(org, task_key)
    failure: list[BaseException] = []
    accepted = threading.Event()

    def hold() -> None:
        try:
            client.acp_post(server_id, envelope, timeout=None)
        except Exception as exc:
            failure.append(exc)
            logger.warning("prompt %s to %s ended without its answer: %s", request_id,
                           described.agent_url, exc)
            if accepted.is_set():
                _report_lost_prompt(org, task_key, session_id, request_id, exc)
        finally:
            client.close()

    poster = threading.Thread(target=hold, name=f"prompt {request_id}", daemon=True)
    poster.start()
    poster.join(PROMPT_ACCEPT_SECONDS)
    accepted.set()
    if failure:
        raise failure[0]


def _report_lost_prompt(org: str, task_key: str, session_id: str, request_id: str,
                        exc: BaseException) -> None:
    """The POST failed after the step returned: end the turn with the error
    (ignored if the stream consumer ended it first)."""
    from tasks.actor import task

    try:
        task.get(org=org, task=task_key).send("task.command.turn_finished", {
            "session_id": session_id, "request_id": request_id,
            "error": f"the prompt's request to the agent server failed: {exc}",
        })
    except Exception:
        logger.exception("could not report the failed prompt %s", request_id)


def cancel(org: str, task_key: str, server_id: str, agent: str, acp_session_id: str) -> None:
    with agent_client(org, task_key) as client:
        AcpConnection(client, server_id, agent).cancel(acp_session_id)


def answer_permission(
    org: str, task_key: str, server_id: str, agent: str, request_id: Any, option_id: str | None
) -> None:
    with agent_client(org, task_key) as client:
        AcpConnection(client, server_id, agent).answer_permission(request_id, option_id)
