"""Actor types used by the runtime tests, loaded into worker processes
through FOUNDRY_ACTOR_EXTRA_MODULES. Each handler is small and its real
side effects (files) are what the tests count."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from foundry.actors import ActorType
from foundry.actors.context import CommandContext

probe = ActorType("probe", key_fields=("name",))


class RecordIn(BaseModel):
    sender: int
    seq: int


@probe.command("probe.command.record", payload=RecordIn)
def record(ctx: CommandContext, payload: RecordIn) -> dict[str, int]:
    return ctx.step("record", lambda: {"sender": payload.sender, "seq": payload.seq})


class SleepIn(BaseModel):
    seconds: float


@probe.command("probe.command.sleep", payload=SleepIn)
def sleep(ctx: CommandContext, payload: SleepIn) -> dict[str, Any]:
    def nap() -> dict[str, Any]:
        started = time.time()
        time.sleep(payload.seconds)
        return {"started": started, "finished": time.time(), "pid": os.getpid()}

    return ctx.step("nap", nap)


class DoubleIn(BaseModel):
    n: int = Field(gt=0)


@probe.command("probe.command.double", payload=DoubleIn)
def double(ctx: CommandContext, payload: DoubleIn) -> int:
    return payload.n * 2


@probe.command("probe.command.fail")
def fail(ctx: CommandContext, payload: Any) -> None:
    raise ValueError(f"boom: the probe was asked to fail ({payload})")


class FiveStepsIn(BaseModel):
    directory: str


@probe.command("probe.command.five_steps", payload=FiveStepsIn)
def five_steps(ctx: CommandContext, payload: FiveStepsIn) -> list[int]:
    """Each step appends a line to effects.log (a real, non-transactional
    side effect). Step 3 parks on its first run until the test kills it."""
    directory = Path(payload.directory)

    def effect(i: int) -> int:
        with (directory / "effects.log").open("a") as log:
            log.write(f"step{i} pid={os.getpid()}\n")
        if i == 3 and not (directory / "killed").exists():
            (directory / "step3.pid").write_text(str(os.getpid()))
            time.sleep(120)
        return i

    return [ctx.step(f"step{i}", effect, i) for i in range(1, 6)]


class DivergeIn(BaseModel):
    flag: str


@probe.command("probe.command.diverge", payload=DivergeIn)
def diverge(ctx: CommandContext, payload: DivergeIn) -> str:
    """Takes a different first step once the flag file exists."""
    flagged = Path(payload.flag).exists()
    ctx.step("renamed" if flagged else "original", lambda: 1)

    def second() -> int:
        if not flagged:
            raise RuntimeError("stopping after the first step")
        return 2

    ctx.step("second", second)
    return "done"


class HopIn(BaseModel):
    index: int
    remaining: int


@probe.command("probe.command.hop", payload=HopIn)
def hop(ctx: CommandContext, payload: HopIn) -> int:
    """Waits on the next actor of the chain: a chain longer than the worker
    pool only completes if waiting frees the worker."""
    if payload.remaining == 0:
        return 0
    nxt = probe.get_or_create(name=f"chain-{payload.index + 1}")
    below = nxt.send(
        "probe.command.hop",
        {"index": payload.index + 1, "remaining": payload.remaining - 1},
        wait=True,
        timeout=60,
    )
    return int(below) + 1


class WaitOnIn(BaseModel):
    name: str
    timeout: float = 5


@probe.command("probe.command.wait_on", payload=WaitOnIn)
def wait_on(ctx: CommandContext, payload: WaitOnIn) -> Any:
    """Waits on a sleep command of another (or the same) probe."""
    other = probe.get_or_create(name=payload.name)
    return other.send(
        "probe.command.sleep", {"seconds": 3}, wait=True, timeout=payload.timeout
    )


@probe.command("probe.command.nested_steps")
def nested_steps(ctx: CommandContext, payload: Any) -> None:
    ctx.step("outer", lambda: ctx.step("inner", lambda: 1))
