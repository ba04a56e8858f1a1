"""Inside a command handler: steps, sends and durable waits.

Promises:

- ``ctx.step(name, fn)`` runs ``fn`` in a transaction that also writes the
  step's row. A step that committed is never run again for this command:
  on replay its recorded output is returned. A step interrupted by a crash
  has no row and runs again (at-least-once), so a step's outside effects
  must be idempotent; its database writes commit exactly once, with its row.
- A step's row is written before the next step starts. A step that touched
  no table has its row written with whatever comes next (the next step, a
  wait, the outcome): a crash just after the handler's last step runs that
  step again, as any interrupted step.
- Commands sent inside a step are inserted in the step's transaction, so
  they exist (and their doorbells ring) only if the step commits.
- Replay checks the step names: a handler that asks for a different step
  than the log holds at that index raises ``HistoryDiverged``.
- ``wait=True`` inside a handler does not hold the worker: the command is
  suspended (status ``waiting``), the worker moves on, and the handler is
  replayed when the awaited command finishes or the wait times out. The
  outcome of a wait is recorded as a step, so replays see the same outcome.

Limits: a step must not start another step; a handler must not wait on
its own actor (or on an actor that waits on it): both raise at once.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, connection
from django.utils import timezone

from foundry.actors.dbretry import atomic_with_retry
from foundry.actors.errors import (
    CommandCancelled,
    CommandFailed,
    CommandTimeout,
    HistoryDiverged,
    LeaseLost,
    NestedStepError,
    WaitNotAllowed,
)
from foundry.actors.jsonvalue import describe_value, to_json_value
from foundry.actors.models import (
    FINISHED_STATUSES,
    ActorInstance,
    Command,
    CommandStatus,
    Step,
    StepStatus,
)
from foundry.actors.sql import insert_step

if TYPE_CHECKING:
    from foundry.actors.lease import Lease

T = TypeVar("T")

_current: ContextVar[CommandContext | None] = ContextVar("foundry_actor_command", default=None)


def current_context() -> CommandContext | None:
    return _current.get()


class Suspend(BaseException):
    """Unwinds a handler that waits on an unfinished command.

    A BaseException so that a handler's ``except Exception`` cannot
    swallow it."""

    def __init__(self, command_id: int, deadline: datetime) -> None:
        super().__init__(command_id, deadline)
        self.command_id = command_id
        self.deadline = deadline


def outcome_of(command: Command, actor_key: str) -> dict[str, Any]:
    """The finished command as waiters and the step log see it."""
    return {
        "status": command.status,
        "command_id": command.pk,
        "command_name": command.name,
        "actor_key": actor_key,
        "result": command.result,
        "error_type": command.error_type,
        "error_message": command.error_message,
    }


def unwrap_outcome(outcome: dict[str, Any]) -> Any:
    status = outcome["status"]
    if status == CommandStatus.SUCCEEDED:
        return outcome["result"]
    names = {
        "actor_key": outcome["actor_key"],
        "command_name": outcome["command_name"],
        "command_id": outcome["command_id"],
    }
    if status == CommandStatus.FAILED:
        raise CommandFailed(
            **names, error_type=outcome["error_type"], message=outcome["error_message"]
        )
    if status == CommandStatus.CANCELLED:
        raise CommandCancelled(**names)
    if status == "timeout":
        raise CommandTimeout(**names, timeout=outcome["timeout"])
    raise ValueError(f"unknown outcome status {status!r} in the step log")


class _QueryCounter:
    """Counts the statements a step's function runs (execute_wrapper)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


class CommandContext:
    """What a handler gets besides its payload: identity, steps, waits."""

    def __init__(self, *, command: Command, lease: Lease, steps: list[Step]) -> None:
        self.command = command
        self._lease = lease
        self._recorded = {step.index: step for step in steps}
        self._next_index = 0
        self._in_step: str | None = None
        # The row of the last step, when that step touched no table: it is
        # written before the next step (or wait) starts, or by the statement
        # that writes the command's outcome, saving a round trip per command.
        # A crash in between runs that step again, as any interrupted step.
        self._unwritten: dict[str, Any] | None = None

    @property
    def command_id(self) -> int:
        return self.command.pk

    @property
    def instance_id(self) -> int:
        return self.command.instance_id

    @functools.cached_property
    def actor_key(self) -> str:
        """``type:key`` of the instance running this command (read once)."""
        instance = ActorInstance.objects.only("actor_type", "key").get(pk=self.instance_id)
        return str(instance)

    @property
    def key_fields(self) -> dict[str, str]:
        """The instance's key fields, e.g. ``{"org": "acme"}``."""
        from foundry.actors.registry import actor_type

        type_name, key = self.actor_key.split(":", 1)
        return actor_type(type_name).key_fields_of(key)

    @property
    def in_step(self) -> bool:
        return self._in_step is not None

    def __enter__(self) -> CommandContext:
        self._token = _current.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._token)

    def take_unwritten_step(self) -> dict[str, Any] | None:
        """The last step's row if not written yet; the caller writes it."""
        unwritten, self._unwritten = self._unwritten, None
        return unwritten

    def write_unwritten_step(self) -> None:
        unwritten = self.take_unwritten_step()
        if unwritten is not None:
            self._lease.check()
            self._insert_step(unwritten, commit_async=True)

    def _take_index(self, name: str) -> tuple[int, Step | None]:
        if self._in_step is not None:
            raise NestedStepError(
                f"step {name!r} started inside step {self._in_step!r} of "
                f"{self.command.name} (command {self.command_id}): steps do not nest"
            )
        self.write_unwritten_step()
        index = self._next_index
        self._next_index += 1
        recorded = self._recorded.get(index)
        if recorded is not None and recorded.name != name:
            raise HistoryDiverged(
                command_name=self.command.name,
                command_id=self.command_id,
                index=index,
                expected=name,
                recorded=recorded.name,
            )
        return index, recorded

    def step(self, name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` once for this command; return its JSON value."""
        index, recorded = self._take_index(name)
        if recorded is not None and recorded.status == StepStatus.SUCCEEDED:
            return recorded.output
        started_at = timezone.now()
        step_input = describe_value({"args": args, "kwargs": kwargs}) if args or kwargs else None
        self._in_step = name

        def record(output: Any) -> None:
            self._lease.check()
            self._write_step(
                index, name, recorded, status=StepStatus.SUCCEEDED, started_at=started_at,
                input=step_input, output=output,
            )

        def run_and_record() -> tuple[bool, Any]:
            queries = _QueryCounter()
            with connection.execute_wrapper(queries):
                output = to_json_value(fn(*args, **kwargs), what=f"output of step {name!r}")
            if queries.count:
                record(output)
            return bool(queries.count), output

        def record_failure(exc: Exception) -> None:
            self._lease.check()
            self._write_step(
                index, name, recorded, status=StepStatus.FAILED,
                started_at=started_at, input=step_input,
                error_type=type(exc).__qualname__, error_message=str(exc),
                traceback="".join(traceback.format_exception(exc)),
            )

        try:
            recorded_with_writes, output = atomic_with_retry(run_and_record)
            if not recorded_with_writes and recorded is None:
                # The step did not touch the database: its row alone needs no
                # transaction, and it is written with whatever comes next.
                self._lease.check()
                self._unwritten = self._step_fields(
                    index, name, status=StepStatus.SUCCEEDED, started_at=started_at,
                    input=step_input, output=output,
                )
            elif not recorded_with_writes:
                record(output)
        except Exception as exc:
            failure = exc
            if not self._lease.lost:
                atomic_with_retry(lambda: record_failure(failure))
            raise
        finally:
            self._in_step = None
        return output

    def _step_fields(self, index: int, name: str, **fields: Any) -> dict[str, Any]:
        return {
            **fields, "command_id": self.command_id, "index": index, "name": name,
            "attempt": self.command.attempts, "finished_at": timezone.now(),
        }

    def _write_step(
        self, index: int, name: str, recorded: Step | None, **fields: Any
    ) -> None:
        if recorded is None:
            self._insert_step(self._step_fields(index, name, **fields), commit_async=False)
        else:
            fields.update(name=name, attempt=self.command.attempts, finished_at=timezone.now())
            Step.objects.filter(pk=recorded.pk).update(**fields)

    def _insert_step(self, fields: dict[str, Any], *, commit_async: bool) -> None:
        # No row yet for this index: the common case, one INSERT. A conflict
        # means another worker recorded this step: the one whose lease
        # expired is this one.
        try:
            insert_step(commit_async=commit_async, **fields)
        except IntegrityError:
            # No savepoint (it would cost two round trips per step): the
            # step's whole transaction is rolled back by the caller.
            self._lease.lost = True
            raise LeaseLost(
                f"step {fields['index']} of command {self.command_id} was recorded by "
                f"another worker; {self._lease.owner} stops"
            ) from None

    def wait_for(self, command_id: int, *, timeout: float | None = None) -> Any:
        """Durably wait for another command; replays return the same outcome."""
        if self._in_step is not None:
            raise WaitNotAllowed(
                f"waiting for command {command_id} inside step {self._in_step!r} of "
                f"{self.command.name}: wait from the handler body, not inside a step"
            )
        name = f"wait for command {command_id}"
        index, recorded = self._take_index(name)
        if recorded is not None and recorded.status == StepStatus.SUCCEEDED:
            return unwrap_outcome(dict(recorded.output or {}))
        awaited = Command.objects.select_related("instance").get(pk=command_id)
        now = timezone.now()
        if awaited.status in FINISHED_STATUSES:
            outcome = outcome_of(awaited, str(awaited.instance))
        else:
            seconds = timeout if timeout is not None else settings.FOUNDRY_ACTOR_WAIT_SECONDS
            deadline = (
                self.command.wait_deadline
                if self.command.waiting_for_id == command_id and self.command.wait_deadline
                else now + timedelta(seconds=seconds)
            )
            if now < deadline:
                raise Suspend(command_id, deadline)
            outcome = {
                **outcome_of(awaited, str(awaited.instance)),
                "status": "timeout",
                "timeout": seconds,
            }
        def record() -> None:
            self._lease.check()
            self._write_step(
                index, name, recorded, status=StepStatus.SUCCEEDED, started_at=now,
                input={"command_id": command_id}, output=outcome,
            )

        atomic_with_retry(record)
        return unwrap_outcome(outcome)

    def check_log_consumed(self) -> None:
        """A handler that finishes before reaching recorded steps diverged too."""
        leftover = [
            s for i, s in sorted(self._recorded.items())
            if i >= self._next_index and s.status == StepStatus.SUCCEEDED
        ]
        if leftover:
            raise HistoryDiverged(
                command_name=self.command.name,
                command_id=self.command_id,
                index=leftover[0].index,
                expected="(handler finished)",
                recorded=leftover[0].name,
            )
