"""Actor types used by the runtime tests, loaded into worker processes
through FOUNDRY_ACTOR_EXTRA_MODULES. Each handler is small and its real
side effects (files) are what the tests count."""

from __future__ import annotations

import math
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from foundry.actors import ActorType
from foundry.actors.context import CommandContext
from foundry.actors.errors import StepFailed

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


# --- fault injection for the runtime tests -------------------------------------------

# A worker whose clock runs ahead (or behind): what a misconfigured machine
# looks like to the runtime. Only the tests set it, on one worker process.
_SKEW = float(os.environ.get("FOUNDRY_TEST_CLOCK_SKEW_SECONDS") or 0)
if _SKEW:
    from datetime import timedelta

    from django.utils import timezone

    _real_now = timezone.now
    timezone.now = lambda: _real_now() + timedelta(seconds=_SKEW)  # type: ignore[assignment]

# A table for the probes' domain writes (a real table the steps write in
# their own transactions): created by the tests, outside any migration.
EFFECTS = "probe_effects"


def ensure_effects_table() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {EFFECTS} (command_id bigint NOT NULL, "
            "attempt integer NOT NULL, pid integer NOT NULL, what varchar(100) NOT NULL)"
        )


def effects(command_id: int) -> list[tuple[int, int, str]]:
    """(attempt, pid, what) of the rows a command's steps wrote, in order."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT attempt, pid, what FROM {EFFECTS} WHERE command_id = %s ORDER BY attempt",
            [command_id],
        )
        return [tuple(row) for row in cursor.fetchall()]


def _write_effect(ctx: CommandContext, what: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {EFFECTS} (command_id, attempt, pid, what) VALUES (%s, %s, %s, %s)",
            [ctx.command_id, ctx.command.attempts, os.getpid(), what],
        )


def _log(directory: Path, line: str) -> None:
    with (directory / "effects.log").open("a") as log:
        log.write(f"{line} pid={os.getpid()}\n")


class DirectoryIn(BaseModel):
    directory: str


class _Unrebuildable(Exception):
    """Needs two arguments, so its instances cannot be rebuilt from args."""

    def __init__(self, code: int, why: str) -> None:
        super().__init__(f"{why} (code {code})")


@probe.command("probe.command.catches", payload=DirectoryIn)
def catches(ctx: CommandContext, payload: DirectoryIn) -> list[str]:
    """Two steps fail on their first run only (the test heals them before
    killing the worker); the handler catches both failures and branches on
    them, then parks until killed. After the crash, replay must take the
    same branches without running the failed steps again."""
    directory = Path(payload.directory)
    healed = (directory / "healed").exists

    def flaky() -> str:
        _log(directory, "flaky")
        if not healed():
            raise ValueError("the first run fails")
        return "ok"

    def flaky_unrebuildable() -> str:
        _log(directory, "flaky2")
        if not healed():
            raise _Unrebuildable(7, "the first run fails too")
        return "ok"

    branches = []
    try:
        branches.append(ctx.step("flaky", flaky))
    except ValueError as exc:
        branches.append(f"caught {exc}")
    try:
        branches.append(ctx.step("flaky, unrebuildable", flaky_unrebuildable))
    except StepFailed as exc:
        branches.append(f"caught StepFailed {exc.error_type}")
    ctx.step(f"after {len(branches[0])}", lambda: _log(directory, "after"))

    def park() -> None:
        _log(directory, "park")
        if not (directory / "killed").exists():
            (directory / "park.pid").write_text(str(os.getpid()))
            time.sleep(120)

    ctx.step("park", park)
    return branches


class FailUntilIn(BaseModel):
    directory: str
    crash: bool = False


@probe.command("probe.command.fail_until_healed", payload=FailUntilIn)
def fail_until_healed(ctx: CommandContext, payload: FailUntilIn) -> list[int]:
    """Three steps; the second fails (or kills its worker, with ``crash``)
    until the directory holds a file named ``healed``."""
    directory = Path(payload.directory)

    def effect(i: int) -> int:
        _log(directory, f"step{i}")
        if i == 2 and not (directory / "healed").exists():
            if payload.crash:
                os.kill(os.getpid(), signal.SIGKILL)
            raise ConnectionError("GitHub is down")
        return i

    return [ctx.step(f"step{i}", effect, i) for i in range(1, 4)]


class HoldIn(BaseModel):
    directory: str
    seconds: float


@probe.command("probe.command.hold_then_write", payload=HoldIn)
def hold_then_write(ctx: CommandContext, payload: HoldIn) -> dict[str, int]:
    """One step: note its pid, sleep (longer on later attempts, so a takeover
    is still sleeping when the first attempt wakes), then write a domain
    row in the step's transaction."""
    directory = Path(payload.directory)

    def hold() -> dict[str, int]:
        (directory / f"hold-{ctx.command.attempts}.pid").write_text(str(os.getpid()))
        _log(directory, f"hold attempt={ctx.command.attempts}")
        time.sleep(payload.seconds * ctx.command.attempts)
        _write_effect(ctx, "held")
        return {"pid": os.getpid(), "attempt": ctx.command.attempts}

    return ctx.step("hold", hold)


class BusyIn(BaseModel):
    directory: str
    seconds: float


def _gil_bound_match(n: int) -> None:
    # Exponential backtracking inside one C call: the interpreter lock is
    # held for all of it, so no other thread of the process runs.
    re.match(r"(a+)+$", "a" * n + "b")


def gil_holding_size(seconds: float) -> int:
    """The input size for which one ``_gil_bound_match`` call takes about
    ``seconds`` here (each extra character doubles the time)."""
    n = 16
    while True:
        started = time.perf_counter()
        _gil_bound_match(n)
        took = time.perf_counter() - started
        if took > 0.05:
            return n + max(0, round(math.log2(seconds / took)))
        n += 1


@probe.command("probe.command.hold_the_interpreter", payload=BusyIn)
def hold_the_interpreter(ctx: CommandContext, payload: BusyIn) -> float:
    """A step stuck in one long C call that holds the interpreter lock, at
    least ``seconds`` long (on a loaded machine the size calibrated first
    may fall short: then one more call, twice as long). Returns the
    longest single call."""
    directory = Path(payload.directory)
    size = gil_holding_size(payload.seconds)

    def stuck() -> float:
        _log(directory, "stuck")
        longest, n = 0.0, size
        while longest < payload.seconds * 0.7:
            started = time.perf_counter()
            _gil_bound_match(n)
            longest = max(longest, time.perf_counter() - started)
            n += 1
        return longest

    return ctx.step("stuck", stuck)


class NapIn(BaseModel):
    directory: str
    seconds: float


@probe.command("probe.command.nap", payload=NapIn)
def nap(ctx: CommandContext, payload: NapIn) -> int:
    """One step that notes its pid and start time, then sleeps."""
    directory = Path(payload.directory)

    def sleep() -> int:
        _log(directory, f"nap started={time.time()}")
        (directory / "nap.pid").write_text(str(os.getpid()))
        time.sleep(payload.seconds)
        return os.getpid()

    return ctx.step("nap", sleep)


class RingIn(BaseModel):
    next: str
    timeout: float = 60


@probe.command("probe.command.ring_wait", payload=RingIn)
def ring_wait(ctx: CommandContext, payload: RingIn) -> int:
    """Waits on a command sent to the next probe of a ring: with every
    probe's head doing this, the waits form a cycle in mailbox order."""
    ctx.step("pause", time.sleep, 0.2)
    nxt = probe.get_or_create(name=payload.next)
    return int(nxt.send("probe.command.double", {"n": 1}, wait=True, timeout=payload.timeout))


class UnsafeIn(BaseModel):
    where: str  # "result", "step", "error"


@probe.command("probe.command.unsafe", payload=UnsafeIn)
def unsafe(ctx: CommandContext, payload: UnsafeIn) -> Any:
    """Produces what JSON (or PostgreSQL) cannot carry, where asked."""
    if payload.where == "result":
        return {"ratio": float("nan")}
    if payload.where == "step":
        return ctx.step("nul", lambda: {"text": "a\x00b"})
    raise ValueError("bad byte \x00 in the input")


class SendsIn(BaseModel):
    to: str


@probe.command("probe.command.sends_in_a_step", payload=SendsIn)
def sends_in_a_step(ctx: CommandContext, payload: SendsIn) -> int:
    """Sends a command from inside a step (its doorbell rings after the
    step commits), then takes one more step."""
    target = probe.get_or_create(name=payload.to)
    sent = ctx.step(
        "send", lambda: target.send("probe.command.double", {"n": 21}).id
    )
    ctx.step("after", lambda: 1)
    return int(sent)


class IoThenWriteIn(BaseModel):
    directory: str
    seconds: float


@probe.command("probe.command.io_then_write", payload=IoThenWriteIn)
def io_then_write(ctx: CommandContext, payload: IoThenWriteIn) -> int:
    """A step shaped like a sync batch: read the database, talk to the
    outside world for a while (here: a log line and a sleep), then write."""
    directory = Path(payload.directory)

    def step() -> int:
        from foundry.actors.models import Command

        Command.objects.filter(pk=ctx.command_id).exists()  # a read first
        _log(directory, "io")
        time.sleep(payload.seconds)
        _write_effect(ctx, "written")
        return 1

    return ctx.step("io then write", step)
