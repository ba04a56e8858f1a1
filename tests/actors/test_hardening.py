"""The runtime's guarantees under faults, against real worker processes
(PostgreSQL and SQLite): exact replay, operator retry, leases that live
exactly as long as their worker, fenced writes, after-commit failures,
unsafe values, wait cycles, the sweeper's restraint."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import current_app
from django.conf import settings
from django.db import connection

from foundry.actors import CommandFailed, InvalidPayload
from foundry.actors.errors import InvalidKey
from foundry.actors.models import ActorInstance, Command, CommandStatus, Step, StepStatus
from foundry.actors.operator import release_lease, retry_failed_command
from tests.actor_types import effects, ensure_effects_table, probe
from tests.conftest import Workers, child_env, wait_until

pytestmark = pytest.mark.workers


def log_lines(directory: Path) -> list[str]:
    path = directory / "effects.log"
    return path.read_text().splitlines() if path.exists() else []


def named(lines: list[str], prefix: str) -> list[str]:
    return [line for line in lines if line.startswith(prefix)]


def test_replay_is_exact_after_a_crash(workers: Workers, tmp_path: Path) -> None:
    """Failed steps replay their recorded errors instead of running again:
    the handler that caught them takes the same branches on the worker that
    resumes the command after a SIGKILL, even though the steps would now
    succeed. An error that can be rebuilt replays as itself, another as
    StepFailed (as on its first run)."""
    workers.start(count=2, beat=True)
    handle = probe.create(name="exact")
    ref = handle.send("probe.command.catches", {"directory": str(tmp_path)})
    pid_file = tmp_path / "park.pid"
    wait_until(pid_file.exists, timeout=30, what="the command to park")
    (tmp_path / "healed").write_text("the flaky steps would succeed now")
    (tmp_path / "killed").write_text("yes")
    os.kill(int(pid_file.read_text()), signal.SIGKILL)

    assert ref.wait(timeout=60) == [
        "caught the first run fails",
        "caught StepFailed _Unrebuildable",
    ]
    lines = log_lines(tmp_path)
    assert len(named(lines, "flaky ")) == 1 and len(named(lines, "flaky2 ")) == 1
    assert len(named(lines, "park")) == 2  # the interrupted step runs again
    command = Command.objects.get(pk=ref.id)
    assert command.attempts == 2
    steps = {s.name: s for s in command.steps.all()}
    assert steps["flaky"].status == StepStatus.FAILED and steps["flaky"].attempt == 1
    assert steps["flaky"].error_data == {
        "class": "builtins:ValueError", "args": ["the first run fails"],
    }
    assert steps["flaky, unrebuildable"].error_data is None
    assert "the first run fails too (code 7)" in steps["flaky, unrebuildable"].error_message


def test_retry_runs_again_from_the_failed_step(workers: Workers, tmp_path: Path) -> None:
    """A command that failed (an outage at its second step) is retried by
    the operator once the outage is over: step 1 replays, steps 2 and 3
    run, and nothing diverges."""
    workers.start()
    handle = probe.create(name="outage")
    ref = handle.send("probe.command.fail_until_healed", {"directory": str(tmp_path)})
    with pytest.raises(CommandFailed, match="ConnectionError: GitHub is down"):
        ref.wait(timeout=30)
    (tmp_path / "healed").write_text("GitHub is back")
    assert retry_failed_command(ref.id)
    assert ref.wait(timeout=30) == [1, 2, 3]
    assert [line.split()[0] for line in log_lines(tmp_path)] == [
        "step1", "step2", "step2", "step3",
    ]
    command = Command.objects.get(pk=ref.id)
    assert command.status == CommandStatus.SUCCEEDED and command.attempts == 1
    assert [(s.name, s.status) for s in command.steps.order_by("index")] == [
        ("step1", "succeeded"), ("step2", "succeeded"), ("step3", "succeeded"),
    ]


def test_an_abandoned_command_can_be_retried(workers: Workers, tmp_path: Path) -> None:
    """A step that kills its worker every time is abandoned after
    FOUNDRY_ACTOR_MAX_ATTEMPTS attempts; once healed, a retry resets the
    attempts and the command runs to the end."""
    workers.start(pool="prefork", beat=True, env={"FOUNDRY_ACTOR_MAX_ATTEMPTS": "2"})
    handle = probe.create(name="deadly")
    ref = handle.send(
        "probe.command.fail_until_healed", {"directory": str(tmp_path), "crash": True}
    )
    with pytest.raises(CommandFailed, match="AbandonedCommand: .* was started 2 times"):
        ref.wait(timeout=60)
    assert Command.objects.get(pk=ref.id).attempts == 3
    (tmp_path / "healed").write_text("no more crashes")
    assert retry_failed_command(ref.id)
    assert ref.wait(timeout=30) == [1, 2, 3]
    command = Command.objects.get(pk=ref.id)
    assert command.attempts == 1
    assert len(named(log_lines(tmp_path), "step1")) == 1  # recorded before the crashes


def test_a_worker_whose_clock_runs_ahead_takes_no_live_lease(
    workers: Workers, tmp_path: Path
) -> None:
    """One worker's clock is an hour ahead. While the other runs a long
    step on an instance, a doorbell for that instance reaches the skewed
    worker: it must leave the instance alone (no second run of the step,
    no extra attempt)."""
    workers.start()
    workers.start(env={"FOUNDRY_TEST_CLOCK_SKEW_SECONDS": "3600"})
    handle = probe.create(name="clocks")
    ref = handle.send("probe.command.nap", {"directory": str(tmp_path), "seconds": 4})
    wait_until((tmp_path / "nap.pid").exists, timeout=30, what="the nap to start")
    time.sleep(0.5)
    behind = [handle.send("probe.command.double", {"n": i}) for i in range(1, 4)]
    # Doorbells for the instance while the nap runs: the busy worker is in
    # the nap, so the skewed one takes them.
    for _ in range(3):
        current_app.send_task(
            "foundry.actors.drain", (handle.instance_id, "probe"), queue="actors.probe"
        )
    time.sleep(1)
    assert [r.wait(timeout=60) for r in behind] == [2, 4, 6]
    ref.wait(timeout=30)
    assert len(named(log_lines(tmp_path), "nap")) == 1
    assert Command.objects.get(pk=ref.id).attempts == 1


def test_a_stuck_worker_keeps_its_lease(workers: Workers, tmp_path: Path) -> None:
    """A step stuck for longer than the lease period in one C call that
    holds the interpreter lock (so no other thread of its process runs):
    with another worker and the sweeper running, it runs once, on one
    attempt, and succeeds."""
    assert settings.FOUNDRY_ACTOR_LEASE_SECONDS <= 2
    workers.start(count=2, beat=True)
    handle = probe.create(name="stuck")
    took = handle.send(
        "probe.command.hold_the_interpreter", {"directory": str(tmp_path), "seconds": 7},
        wait=True, timeout=90,
    )
    lease, sweep = settings.FOUNDRY_ACTOR_LEASE_SECONDS, settings.FOUNDRY_ACTOR_SWEEP_SECONDS
    assert took > lease + 2 * sweep, f"the C call took only {took:.1f}s"
    assert len(named(log_lines(tmp_path), "stuck")) == 1
    assert Command.objects.get(name="probe.command.hold_the_interpreter").attempts == 1


def test_a_paused_worker_keeps_its_lease(workers: Workers, tmp_path: Path) -> None:
    """A worker paused with SIGSTOP for three lease periods mid-step is not
    declared dead: nobody runs the step again, and after SIGCONT it
    finishes the command on its first attempt."""
    first, _ = workers.start(count=2, beat=True)
    handle = probe.create(name="paused")
    ref = handle.send("probe.command.nap", {"directory": str(tmp_path), "seconds": 1})
    wait_until((tmp_path / "nap.pid").exists, timeout=30, what="the nap to start")
    pid = int((tmp_path / "nap.pid").read_text())
    lease, sweep = settings.FOUNDRY_ACTOR_LEASE_SECONDS, settings.FOUNDRY_ACTOR_SWEEP_SECONDS
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(3 * lease + 2 * sweep)
        assert len(named(log_lines(tmp_path), "nap")) == 1
    finally:
        os.kill(pid, signal.SIGCONT)
    assert ref.wait(timeout=30) == pid
    assert Command.objects.get(pk=ref.id).attempts == 1


def test_step_rows_and_their_writes_are_fenced_by_the_lease(
    workers: Workers, tmp_path: Path
) -> None:
    """A worker is paused mid-step and the operator releases its lease;
    another worker takes the command over. When the paused worker wakes up
    it finishes its step first, but neither its domain write nor its step
    row commits: the rightful owner's do, and the command succeeds once."""
    ensure_effects_table()
    workers.start(count=2)
    handle = probe.create(name="fenced")
    ref = handle.send(
        "probe.command.hold_then_write", {"directory": str(tmp_path), "seconds": 2}
    )
    wait_until((tmp_path / "hold-1.pid").exists, timeout=30, what="the first attempt")
    stale = int((tmp_path / "hold-1.pid").read_text())
    os.kill(stale, signal.SIGSTOP)
    try:
        assert release_lease(handle.instance_id)
        # The takeover sleeps 4 s; the stale attempt has 2 s left to sleep.
        wait_until((tmp_path / "hold-2.pid").exists, timeout=30, what="the takeover")
    finally:
        os.kill(stale, signal.SIGCONT)
    result = ref.wait(timeout=60)
    assert result["attempt"] == 2 and result["pid"] != stale
    assert effects(ref.id) == [(2, result["pid"], "held")]
    step = Step.objects.get(command_id=ref.id)
    assert (step.attempt, step.status) == (2, StepStatus.SUCCEEDED)
    # The stale worker lives on and serves the next commands.
    assert [handle.send("probe.command.double", {"n": n}, wait=True, timeout=30)
            for n in range(1, 5)] == [2, 4, 6, 8]


def test_after_commit_failures_are_left_to_the_sweeper(
    workers: Workers, tmp_path: Path
) -> None:
    """A worker whose Redis is gone cannot count doorbells nor deliver
    replies: the step that sent a command stands (one row, no second
    attempt), the command finishes, and the sweeper rings what it missed.
    A sender whose broker is gone still sends: its command is durable and
    runs."""
    dead_redis = "redis://127.0.0.1:1/0"
    workers.start(queues="maintenance", beat=True)
    workers.start(queues="actors.probe", env={"REDIS_URL": dead_redis})
    handle = probe.create(name="sender")
    ref = handle.send("probe.command.sends_in_a_step", {"to": "receiver"})
    sent = ref.wait(timeout=60)
    command = Command.objects.get(pk=ref.id)
    assert (command.status, command.attempts) == (CommandStatus.SUCCEEDED, 1)
    assert [(s.name, s.status) for s in command.steps.order_by("index")] == [
        ("send", "succeeded"), ("after", "succeeded"),
    ]
    wait_until(
        lambda: Command.objects.filter(pk=sent, status=CommandStatus.SUCCEEDED).exists(),
        timeout=30, what="the command sent from the step to run",
    )
    worker_log = workers.output()
    assert "failed after commit; the sweeper will ring it" in worker_log

    # No sweeper while the broker-less sender sends: a sweep between its
    # commit and its ring would ring first and make its own ring a no-op.
    workers.stop()
    script = (
        "from tests.actor_types import probe;"
        "ref = probe.get_or_create(name='broker-less').send('probe.command.double', {'n': 50});"
        "print(ref.id)"
    )
    sender = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=settings.BASE_DIR,
        env=child_env(CELERY_BROKER_URL="redis://127.0.0.1:1/0"),
        capture_output=True, text=True, timeout=60,
    )
    assert sender.returncode == 0, sender.stderr
    assert "the sweeper will ring it" in sender.stderr
    command_id = int(sender.stdout.split()[-1])
    workers.start(queues="actors.probe,maintenance", beat=True)
    wait_until(
        lambda: Command.objects.filter(pk=command_id, status=CommandStatus.SUCCEEDED).exists(),
        timeout=30, what="the command of the broker-less sender to run",
    )


@pytest.mark.parametrize("body", [
    {"n": float("nan")}, {"n": float("inf")}, {"n": 1, "note": "a\x00b"},
    {"n": 1, "nested": [{"x": -float("inf")}]}, {"a\x00": 1},
])
def test_unsafe_payloads_are_refused_at_send(transactional_db: None, body: Any) -> None:
    """What JSON or PostgreSQL cannot carry is refused at send, typed or
    untyped, with the path of the bad part, and nothing is enqueued."""
    handle = probe.create(name="strict")
    with pytest.raises(InvalidPayload):
        handle.send("probe.command.double", body)
    with pytest.raises(InvalidPayload):
        handle.send("probe.command.fail", body)  # untyped
    with pytest.raises(InvalidPayload, match="invalid payload for probe.command.fail: body:"):
        handle.send("probe.command.fail", {"when": object()})
    with pytest.raises(InvalidKey):
        probe.get_or_create(name="nul\x00key")
    assert Command.objects.count() == 0


@pytest.mark.parametrize(("where", "error"), [
    ("result", "NotSerializable: result of probe.command.unsafe cannot be stored as JSON: "
               "ratio: nan is not a JSON number"),
    ("step", "NotSerializable: output of step 'nul' cannot be stored as JSON: "
             "text: contains a NUL character"),
    ("error", "ValueError: bad byte \\x00 in the input"),
])
def test_unsafe_values_from_a_handler_fail_the_command_once(
    workers: Workers, where: str, error: str
) -> None:
    """A result, a step output or an error message that the databases
    cannot carry fails its command on the first attempt with a clear
    error; the instance goes on."""
    workers.start()
    handle = probe.create(name=f"unsafe-{where}")
    with pytest.raises(CommandFailed) as caught:
        handle.send("probe.command.unsafe", {"where": where}, wait=True, timeout=30)
    assert error in str(caught.value)
    command = Command.objects.get(name="probe.command.unsafe")
    assert (command.status, command.attempts) == (CommandStatus.FAILED, 1)
    assert handle.send("probe.command.double", {"n": 2}, wait=True, timeout=30) == 4


def test_a_cycle_of_waits_in_mailbox_order_fails_at_once(workers: Workers) -> None:
    """Ten probes in a ring: each head command waits on a command sent to
    the next probe, which sits behind that probe's own head. The wait that
    closes the cycle fails at once with WaitNotAllowed; the ring unwinds
    long before the 60 s wait timeout."""
    workers.start(count=2)
    names = [f"ring-{i}" for i in range(10)]
    handles = [probe.create(name=name) for name in names]
    started = time.monotonic()
    refs = [
        h.send("probe.command.ring_wait", {"next": names[(i + 1) % 10], "timeout": 60})
        for i, h in enumerate(handles)
    ]
    outcomes: list[Any] = []
    for ref in refs:
        try:
            outcomes.append(ref.wait(timeout=60))
        except CommandFailed as failed:
            outcomes.append(failed)
    elapsed = time.monotonic() - started
    assert elapsed < 20, f"the ring took {elapsed:.1f}s to unwind"
    refused = [o for o in outcomes if isinstance(o, CommandFailed)]
    assert refused and all(o.error_type == "WaitNotAllowed" for o in refused)
    assert "a cycle of waiting mailboxes never ends" in str(refused[0])
    assert all(o == 2 for o in outcomes if not isinstance(o, CommandFailed))


def test_the_sweeper_leaves_a_backlog_alone(workers: Workers, tmp_path: Path) -> None:
    """While the only actor worker is busy, 20 instances wait with their
    doorbells queued: the sweeper (on its own worker, every second) adds
    no doorbells for them, and all of them run afterwards."""
    workers.start(queues="maintenance", beat=True)
    workers.start(queues="actors.probe")
    busy = probe.create(name="busy").send(
        "probe.command.nap", {"directory": str(tmp_path), "seconds": 5}
    )
    wait_until((tmp_path / "nap.pid").exists, timeout=30, what="the busy command to start")
    refs = [probe.create(name=f"backlog-{i}").send("probe.command.double", {"n": i})
            for i in range(1, 21)]
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    most = 0
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        most = max(most, instances_in_queued_doorbells(broker, "actors.probe"))
        time.sleep(0.1)
    # One doorbell may be prefetched by the busy worker: 19 or 20 instances
    # wait in the queue (a doorbell may carry several).
    assert 19 <= most <= 20, f"doorbells for {most} instances queued for 20 instances"
    assert [r.wait(timeout=60) for r in refs] == [2 * i for i in range(1, 21)]
    busy.wait(timeout=30)


def instances_in_queued_doorbells(broker: redis.Redis, queue: str) -> int:
    """How many instances the doorbells waiting in a Celery queue name (a
    doorbell's first argument is an instance id or a list of them)."""
    total = 0
    for raw in broker.lrange(queue, 0, -1):
        message = json.loads(raw)
        args = json.loads(base64.b64decode(message["body"]))[0]
        total += len(args[0]) if isinstance(args[0], list) else 1
    return total


def test_a_killed_workers_command_resumes_within_lease_and_sweep(
    workers: Workers, tmp_path: Path
) -> None:
    """SIGKILL during a step: the command resumes on the other worker
    within the lease period plus one sweep period."""
    workers.start(count=2, beat=True)
    handle = probe.create(name="resumes")
    ref = handle.send("probe.command.nap", {"directory": str(tmp_path), "seconds": 30})
    wait_until((tmp_path / "nap.pid").exists, timeout=30, what="the nap to start")
    victim = int((tmp_path / "nap.pid").read_text())
    (tmp_path / "nap.pid").unlink()
    killed_at = time.time()
    os.kill(victim, signal.SIGKILL)
    wait_until((tmp_path / "nap.pid").exists, timeout=30, what="the nap to run again")
    resumed_at = float(named(log_lines(tmp_path), "nap")[-1].split("started=")[1].split()[0])
    limit = settings.FOUNDRY_ACTOR_LEASE_SECONDS + settings.FOUNDRY_ACTOR_SWEEP_SECONDS + 0.5
    assert resumed_at - killed_at < limit, f"resumed {resumed_at - killed_at:.1f}s after the kill"
    assert Command.objects.get(pk=ref.id).attempts == 2
    assert ActorInstance.objects.get(pk=handle.instance_id).lease_owner.split(":")[1] != str(victim)


def test_sqlite_step_io_runs_once_and_outside_the_write_lock(
    workers: Workers, tmp_path: Path
) -> None:
    """A step that reads, does slow outside work, then writes, while other
    connections commit meanwhile: its outside work runs once (no retry
    after "database is locked"), and the others' writes are not held up by
    it (the write lock is not held during the outside work)."""
    ensure_effects_table()
    workers.start()
    handle = probe.create(name="io")
    ref = handle.send("probe.command.io_then_write", {"directory": str(tmp_path), "seconds": 2})
    wait_until(lambda: log_lines(tmp_path), timeout=30, what="the outside work to start")
    slowest = 0.0
    other = probe.create(name="other")
    for _ in range(10):
        started = time.monotonic()
        other.send("probe.command.double", {"n": 1})  # an insert that commits
        slowest = max(slowest, time.monotonic() - started)
        time.sleep(0.1)
    assert ref.wait(timeout=30) == 1
    assert slowest < 0.5, f"a write waited {slowest:.2f}s behind the step"
    assert len(named(log_lines(tmp_path), "io")) == 1
    assert [what for _, _, what in effects(ref.id)] == ["written"]
    assert connection.vendor in ("postgresql", "sqlite")
