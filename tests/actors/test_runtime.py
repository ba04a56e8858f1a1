"""The command loop against real worker processes (PostgreSQL and SQLite)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from celery.signals import before_task_publish
from django.db import connection

from foundry.actors import (
    ActorNotFound,
    CommandFailed,
    CommandTimeout,
    InvalidPayload,
    UnknownCommand,
)
from foundry.actors.errors import ActorAlreadyExists, InvalidKey
from foundry.actors.models import Command, CommandStatus, Step
from foundry.actors.operator import cancel_queued_command, retry_failed_command
from tests.actor_types import probe
from tests.conftest import Workers, wait_until

pytestmark = pytest.mark.workers


def test_handles_get_create_get_or_create(transactional_db: None) -> None:
    """get needs an existing instance and names the key when it is missing;
    create refuses a duplicate; get_or_create returns the same instance."""
    with pytest.raises(ActorNotFound, match="actor not found: probe:nobody"):
        probe.get(name="nobody")
    created = probe.create(name="alice", input={"colour": "blue"})
    assert probe.get(name="alice").instance_id == created.instance_id
    with pytest.raises(ActorAlreadyExists, match="probe:alice"):
        probe.create(name="alice")
    again = probe.get_or_create(name="alice", create_with_input={"colour": "red"})
    assert again.instance_id == created.instance_id
    assert again.created_input == {"colour": "blue"}
    fresh = probe.get_or_create(name="bob", create_with_input={"colour": "red"})
    assert fresh.created_input == {"colour": "red"}
    with pytest.raises(InvalidKey):
        probe.get(name="a/b")


def test_send_rejects_unknown_command_and_invalid_payload(transactional_db: None) -> None:
    """Bad sends fail at the sender with a clear error and enqueue nothing."""
    handle = probe.create(name="strict")
    with pytest.raises(UnknownCommand, match="'probe' has no command 'probe.command.nope'"):
        handle.send("probe.command.nope", {})
    with pytest.raises(InvalidPayload, match="n: Input should be greater than 0"):
        handle.send("probe.command.double", {"n": -1})
    with pytest.raises(InvalidPayload, match="n: Field required"):
        handle.send("probe.command.double", {})
    assert Command.objects.count() == 0


def test_order_and_exclusion(workers: Workers) -> None:
    """1,000 commands from 4 concurrent senders to one instance run in each
    sender's order, and never two at once."""
    workers.start(count=2)
    handle = probe.create(name="ordered")
    per_sender = 250
    errors: list[BaseException] = []

    def sender(sender_id: int) -> None:
        try:
            for seq in range(per_sender):
                handle.send("probe.command.record", {"sender": sender_id, "seq": seq})
        except BaseException as exc:  # reported by the main thread below
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    wait_until(
        lambda: not Command.objects.exclude(status=CommandStatus.SUCCEEDED).exists(),
        timeout=180,
        what="all 1,000 commands to finish",
    )
    commands = list(Command.objects.order_by("started_at"))
    assert len(commands) == 4 * per_sender
    assert all(c.attempts == 1 for c in commands)
    for earlier, later in zip(commands, commands[1:]):
        assert earlier.finished_at <= later.started_at, "two commands overlapped"
    for sender_id in range(4):
        seqs = [c.result["seq"] for c in commands if c.result["sender"] == sender_id]
        assert seqs == list(range(per_sender))


def test_instances_progress_in_parallel(workers: Workers) -> None:
    """With 2 worker processes, 20 instances run two at a time, not one."""
    workers.start(count=2)
    handles = [probe.create(name=f"p{i}") for i in range(20)]
    started = time.monotonic()
    refs = [h.send("probe.command.sleep", {"seconds": 0.2}) for h in handles for _ in range(2)]
    results = [ref.wait(timeout=60) for ref in refs]
    elapsed = time.monotonic() - started
    spans = sorted((r["started"], r["finished"], r["pid"]) for r in results)
    most_at_once = max(sum(1 for s, f, _ in spans if s <= start < f) for start, _, _ in spans)
    assert most_at_once == 2
    assert len({pid for _, _, pid in spans}) == 2
    serial = 40 * 0.2
    assert elapsed < serial * 0.75, f"{elapsed:.2f}s is not parallel (serial {serial}s)"


def test_a_busy_instance_gets_one_doorbell_per_drain(workers: Workers) -> None:
    """Fire-and-forget sends to an instance that is being drained do not
    each ring: the first send rings, the others count on the drain reading
    the mailbox again before it stops, and every command runs, in order."""
    workers.start(count=2)
    handle = probe.create(name="busy")
    doorbells: list[tuple[int, str]] = []

    def count_doorbells(headers: dict[str, Any], body: Any, **kwargs: Any) -> None:
        if headers.get("task") == "foundry.actors.drain":
            instances, type_name = body[0]  # the task's args: one instance, or several
            for instance in instances if isinstance(instances, list) else [instances]:
                doorbells.append((instance, type_name))

    before_task_publish.connect(count_doorbells)
    try:
        slow = handle.send("probe.command.sleep", {"seconds": 1.0})
        wait_until(
            lambda: Command.objects.filter(pk=slow.id, status=CommandStatus.RUNNING).exists(),
            timeout=30, what="the slow command to start",
        )
        refs = [handle.send("probe.command.record", {"sender": 0, "seq": i}) for i in range(50)]
        assert refs[-1].wait(timeout=60) == {"sender": 0, "seq": 49}
    finally:
        before_task_publish.disconnect(count_doorbells)
    assert doorbells == [(handle.instance_id, "probe")]
    records = Command.objects.filter(name="probe.command.record").order_by("started_at")
    assert [c.result["seq"] for c in records] == list(range(50))
    assert all(c.status == CommandStatus.SUCCEEDED for c in records)


def test_crash_in_step_three_resumes_on_another_worker(workers: Workers, tmp_path: Path) -> None:
    """A worker SIGKILLed inside step 3 of 5: another worker finishes the
    command; steps 1-2 are not run again, step 3 is, steps 4-5 run once; the
    waiter gets the result and the commands behind it run in order."""
    first, _ = workers.start(count=2, beat=True)
    handle = probe.create(name="crashy")
    ref = handle.send("probe.command.five_steps", {"directory": str(tmp_path)})
    behind = [handle.send("probe.command.record", {"sender": 0, "seq": i}) for i in range(3)]
    pid_file = tmp_path / "step3.pid"
    wait_until(pid_file.exists, timeout=30, what="step 3 to start")
    victim = int(pid_file.read_text())
    (tmp_path / "killed").write_text("yes")
    os.kill(victim, signal.SIGKILL)

    assert ref.wait(timeout=60) == [1, 2, 3, 4, 5]
    effects = (tmp_path / "effects.log").read_text().splitlines()
    steps = [line.split()[0] for line in effects]
    assert steps == ["step1", "step2", "step3", "step3", "step4", "step5"]
    assert len({line.split()[1] for line in effects[3:]}) == 1
    assert f"pid={victim}" not in effects[3]
    command = Command.objects.get(pk=ref.id)
    assert command.attempts == 2
    assert [(s.name, s.attempt) for s in command.steps.order_by("index")] == [
        ("step1", 1),
        ("step2", 1),
        ("step3", 2),
        ("step4", 2),
        ("step5", 2),
    ]
    assert [r.wait(timeout=30)["seq"] for r in behind] == [0, 1, 2]
    ordered = list(Command.objects.filter(instance_id=handle.instance_id).order_by("started_at"))
    assert [c.pk for c in ordered] == [ref.id, *(r.id for r in behind)]


def test_waiting_commands_do_not_hold_workers(workers: Workers) -> None:
    """A chain of 10 commands, each waiting on the next actor's command,
    completes on one worker with concurrency 2."""
    workers.start(count=1, pool="prefork", concurrency=2)
    head = probe.create(name="chain-0")
    assert (
        head.send("probe.command.hop", {"index": 0, "remaining": 10}, wait=True, timeout=90) == 10
    )
    hops = Command.objects.filter(name="probe.command.hop").order_by("id")
    assert hops.count() == 11
    for parent, child in zip(hops, hops[1:]):
        assert child.caused_by_id == parent.pk


def test_handler_error_reaches_the_waiter_and_the_instance_goes_on(workers: Workers) -> None:
    """The waiter gets the handler's error with actor key, command name and
    original message; the next command of the instance still runs."""
    workers.start()
    handle = probe.create(name="faulty")
    failing = handle.send("probe.command.fail", {"why": "test"})
    following = handle.send("probe.command.double", {"n": 21})
    with pytest.raises(CommandFailed) as caught:
        failing.wait(timeout=30)
    message = str(caught.value)
    assert "probe.command.fail on probe:faulty" in message
    assert "ValueError: boom: the probe was asked to fail ({'why': 'test'})" in message
    assert following.wait(timeout=30) == 42
    failed = Command.objects.get(pk=failing.id)
    assert failed.status == CommandStatus.FAILED
    assert "Traceback" in failed.traceback and "boom" in failed.traceback


def test_timeout_then_the_instance_goes_on(workers: Workers) -> None:
    """A waiter that gives up gets a timeout error naming the command; the
    command itself finishes and the next one runs."""
    workers.start()
    handle = probe.create(name="slow")
    with pytest.raises(
        CommandTimeout, match=r"timed out after 0.5s waiting for probe.command.sleep on probe:slow"
    ):
        handle.send("probe.command.sleep", {"seconds": 1.5}, wait=True, timeout=0.5)
    assert handle.send("probe.command.double", {"n": 2}, wait=True, timeout=30) == 4
    assert Command.objects.get(name="probe.command.sleep").status == CommandStatus.SUCCEEDED


def test_unknown_command_in_the_mailbox_fails_alone(workers: Workers) -> None:
    """A mailbox row naming a command no code handles (sent by an older
    release, say) fails with UnknownCommand; the next command runs."""
    workers.start()
    handle = probe.create(name="legacy")
    Command.objects.create(instance_id=handle.instance_id, name="probe.command.retired", payload={})
    assert handle.send("probe.command.double", {"n": 5}, wait=True, timeout=30) == 10
    retired = Command.objects.get(name="probe.command.retired")
    assert retired.status == CommandStatus.FAILED
    assert retired.error_type == "UnknownCommand"
    assert "no command 'probe.command.retired'" in retired.error_message


def test_history_divergence_is_an_explicit_error(workers: Workers, tmp_path: Path) -> None:
    """Replaying a command whose handler now takes another first step fails
    with HistoryDiverged naming the step index, expected and recorded step;
    the instance goes on."""
    workers.start()
    handle = probe.create(name="diverging")
    flag = tmp_path / "flag"
    ref = handle.send("probe.command.diverge", {"flag": str(flag)})
    with pytest.raises(CommandFailed, match="stopping after the first step"):
        ref.wait(timeout=30)
    flag.write_text("now the handler takes another path")
    assert retry_failed_command(ref.id)
    with pytest.raises(CommandFailed) as caught:
        ref.wait(timeout=30)
    assert caught.value.error_type == "HistoryDiverged"
    assert "at step 0: the handler asked for step 'renamed' but the log recorded 'original'" in str(
        caught.value
    )
    assert handle.send("probe.command.double", {"n": 1}, wait=True, timeout=30) == 2


def test_retry_replays_finished_steps(workers: Workers, tmp_path: Path) -> None:
    """Retrying a failed command keeps its succeeded steps and reruns the
    failed one."""
    workers.start()
    handle = probe.create(name="retried")
    ref = handle.send("probe.command.five_steps", {"directory": str(tmp_path)})
    (tmp_path / "killed").write_text("step 3 must not park")
    assert ref.wait(timeout=30) == [1, 2, 3, 4, 5]
    assert not retry_failed_command(ref.id), "only failed commands can be retried"


def test_self_wait_and_nested_steps_fail_clearly(workers: Workers) -> None:
    """Waiting on one's own actor would deadlock and a step inside a step
    breaks replay: both fail at once with a message that says so."""
    workers.start()
    handle = probe.create(name="selfish")
    with pytest.raises(CommandFailed, match="would wait on its own actor probe:selfish"):
        handle.send("probe.command.wait_on", {"name": "selfish"}, wait=True, timeout=30)
    with pytest.raises(CommandFailed, match="step 'inner' started inside step 'outer'"):
        handle.send("probe.command.nested_steps", None, wait=True, timeout=30)


def test_durable_wait_times_out_inside_a_handler(workers: Workers) -> None:
    """A handler's wait that exceeds its timeout resumes with a timeout
    error (recorded as the wait step's outcome), without blocking a worker:
    the second worker resumes it while the first runs the slow command."""
    workers.start(count=2)
    handle = probe.create(name="impatient")
    with pytest.raises(CommandFailed, match="CommandTimeout: timed out after 0.5s"):
        handle.send(
            "probe.command.wait_on", {"name": "sleeper", "timeout": 0.5}, wait=True, timeout=30
        )
    command = Command.objects.get(name="probe.command.wait_on")
    wait_step = Step.objects.get(command=command, name__startswith="wait for command")
    assert wait_step.output["status"] == "timeout"


def test_cancel_queued_command(workers: Workers) -> None:
    """A queued command can be cancelled; its waiter learns it; a running
    or finished one cannot."""
    handle = probe.create(name="cancelled")
    ref = handle.send("probe.command.double", {"n": 3})
    assert cancel_queued_command(ref.id)
    assert not cancel_queued_command(ref.id)
    workers.start()
    assert handle.send("probe.command.double", {"n": 4}, wait=True, timeout=30) == 8
    from foundry.actors import CommandCancelled

    with pytest.raises(CommandCancelled):
        ref.wait(timeout=5)
