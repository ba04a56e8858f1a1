"""Inside a command handler: steps, sends and durable waits.

Promises:

- ``ctx.step(name, fn)`` runs ``fn`` in a transaction that also writes the
  step's row, fenced by the lease: its database writes commit exactly once,
  with its row, and only while this drain holds the instance. A step that
  committed is never run again for this command.
- **Replay is exact.** On replay a step that succeeded returns its recorded
  output, and a step that failed raises its recorded error again: the same
  class with the same arguments when they can be rebuilt, else
  ``StepFailed``, which the first run raises too (the original as its
  cause). A handler that caught a failure takes the same branch after a
  crash. A step interrupted by a crash has no row and runs again
  (at-least-once), so a step's outside effects must be idempotent.
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
  A wait that would close a cycle of waiting mailboxes fails at once with
  ``WaitNotAllowed``, recorded like any failed step.

Limits: a step must not start another step, nor wait.
"""

from __future__ import annotations

import functools
import importlib
import logging
import time
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from django.conf import settings
from django.db import connection, transaction

from foundry.actors import transitions
from foundry.actors.errors import (
    CommandCancelled,
    CommandFailed,
    CommandTimeout,
    HistoryDiverged,
    LeaseLost,
    NestedStepError,
    NotSerializable,
    StepFailed,
    WaitNotAllowed,
)
from foundry.actors.jsonvalue import describe_value, to_json_value
from foundry.actors.models import FINISHED_STATUSES, ActorInstance, Command, Step, StepStatus
from foundry.actors.transitions import Cycle, StepRow

if TYPE_CHECKING:
    from foundry.actors.liveness import Lease

T = TypeVar("T")
logger = logging.getLogger(__name__)

_current: ContextVar[CommandContext | None] = ContextVar("foundry_actor_command", default=None)


def current_context() -> CommandContext | None:
    return _current.get()


class Suspend(BaseException):
    """Unwinds a handler that waits on an unfinished command.

    A BaseException so that a handler's ``except Exception`` cannot
    swallow it."""

    def __init__(self, command_id: int, seconds_left: float) -> None:
        super().__init__(command_id, seconds_left)
        self.command_id = command_id
        self.seconds_left = seconds_left


# --- outcomes of commands, as waiters and the step log see them -----------------

def outcome_of(command: Command, actor_key: str) -> dict[str, Any]:
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
    if status == "succeeded":
        return outcome["result"]
    names = {
        "actor_key": outcome["actor_key"],
        "command_name": outcome["command_name"],
        "command_id": outcome["command_id"],
    }
    if status == "failed":
        raise CommandFailed(
            **names, error_type=outcome["error_type"], message=outcome["error_message"]
        )
    if status == "cancelled":
        raise CommandCancelled(**names)
    if status == "timeout":
        raise CommandTimeout(**names, timeout=outcome["timeout"])
    raise ValueError(f"unknown outcome status {status!r} in the step log")


# --- errors that replay ------------------------------------------------------------------

def replay_data(exc: BaseException) -> dict[str, Any] | None:
    """How to raise ``exc`` again on replay: its class path and arguments,
    if rebuilding it from them gives the same class and message; else None."""
    cls = type(exc)
    if "<locals>" in cls.__qualname__:
        return None
    try:
        args = to_json_value(list(exc.args), what="error arguments")
        rebuilt = cls(*args)
    except Exception:
        return None
    if type(rebuilt) is not cls or str(rebuilt) != str(exc):
        return None
    return {"class": f"{cls.__module__}:{cls.__qualname__}", "args": args}


def _rebuilt(data: dict[str, Any]) -> BaseException | None:
    module_name, qualname = str(data["class"]).split(":", 1)
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
        if isinstance(found, type) and issubclass(found, Exception):
            return found(*data["args"])
    except Exception:
        logger.warning("cannot rebuild recorded error %s; replaying it as StepFailed", data)
    return None


def recorded_error(step: Step) -> BaseException:
    """The error a failed step raises on replay."""
    error = _rebuilt(step.error_data) if step.error_data else None
    if error is None:
        return StepFailed(
            step_name=step.name, error_type=step.error_type, message=step.error_message
        )
    error.add_note(f"(replayed from the step log: step {step.index} {step.name!r})")
    return error


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

    def __init__(
        self, *, command: Command, lease: Lease, steps: list[Step], actor_type: Any,
    ) -> None:
        self.command = command
        self._lease = lease
        self._actor_type = actor_type
        self._recorded = {step.index: step for step in steps}
        self._next_index = 0
        self._in_step: str | None = None
        # The row of the last step, when that step touched no table: it is
        # written before the next step (or wait) starts, or by the statement
        # that writes the command's outcome, saving a round trip per command.
        self._unwritten: StepRow | None = None

    @property
    def command_id(self) -> int:
        return self.command.pk

    @property
    def instance_id(self) -> int:
        return self.command.instance_id

    @functools.cached_property
    def actor_key(self) -> str:
        """``type:key`` of the instance running this command (read once)."""
        return str(ActorInstance.objects.only("actor_type", "key").get(pk=self.instance_id))

    @property
    def key_fields(self) -> dict[str, str]:
        """The instance's key fields, e.g. ``{"org": "acme"}``."""
        key = self.actor_key.split(":", 1)[1]
        fields: dict[str, str] = self._actor_type.key_fields_of(key)
        return fields

    @property
    def in_step(self) -> bool:
        return self._in_step is not None

    def __enter__(self) -> CommandContext:
        self._token = _current.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._token)

    def take_unwritten_step(self) -> StepRow | None:
        """The last step's row if not written yet; the caller writes it."""
        unwritten, self._unwritten = self._unwritten, None
        return unwritten

    def _take_index(self, name: str) -> tuple[int, Step | None]:
        if self._in_step is not None:
            raise NestedStepError(
                f"step {name!r} started inside step {self._in_step!r} of "
                f"{self.command.name} (command {self.command_id}): steps do not nest"
            )
        unwritten = self.take_unwritten_step()
        if unwritten is not None:
            transitions.write_step(self._lease, unwritten)
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

    def _row(self, index: int, name: str, status: str, seconds: float, **fields: Any) -> StepRow:
        return StepRow(
            command_id=self.command_id, index=index, name=name, status=status,
            attempt=self.command.attempts, seconds=seconds, **fields,
        )

    def step(self, name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` once for this command; return its JSON value."""
        index, recorded = self._take_index(name)
        if recorded is not None:
            if recorded.status == StepStatus.SUCCEEDED:
                return recorded.output
            raise recorded_error(recorded)
        step_input = describe_value({"args": args, "kwargs": kwargs}) if args or kwargs else None
        started = time.monotonic()
        self._in_step = name
        ran = False
        try:
            queries = _QueryCounter()
            with transaction.atomic():
                with connection.execute_wrapper(queries):
                    output = to_json_value(fn(*args, **kwargs), what=f"output of step {name!r}")
                wrote = queries.count > 0
                if wrote:
                    transitions.write_step(self._lease, self._row(
                        index, name, StepStatus.SUCCEEDED, time.monotonic() - started,
                        input=step_input, output=output,
                    ))
                ran = True
        except LeaseLost:
            raise
        except Exception as exc:
            if ran and self._step_recorded(index):
                # The step committed; what failed ran after the commit (an
                # on_commit hook). The step stands.
                logger.exception("after-commit work of step %r of %s failed", name, self.command)
                return output
            self._record_failure(index, name, step_input, started, exc)
        finally:
            self._in_step = None
        if not wrote:
            # The step did not touch the database: its row alone needs no
            # transaction, and it is written with whatever comes next.
            self._lease.check()
            self._unwritten = self._row(
                index, name, StepStatus.SUCCEEDED, time.monotonic() - started,
                input=step_input, output=output,
            )
        return output

    def _step_recorded(self, index: int) -> bool:
        return Step.objects.filter(command_id=self.command_id, index=index).exists()

    def _record_failure(
        self, index: int, name: str, step_input: Any, started: float, exc: Exception
    ) -> NoReturn:
        """Record the failed step, then raise what every replay will raise."""
        data = replay_data(exc)
        transitions.write_step(self._lease, self._row(
            index, name, StepStatus.FAILED, time.monotonic() - started, input=step_input,
            error_type=type(exc).__qualname__, error_message=str(exc),
            traceback="".join(traceback.format_exception(exc)), error_data=data,
        ))
        if data is not None:
            raise exc
        raise StepFailed(
            step_name=name, error_type=type(exc).__qualname__, message=str(exc)
        ) from exc

    def wait_for(self, command_id: int, *, timeout: float | None = None) -> Any:
        """Durably wait for another command; replays return the same outcome."""
        if self._in_step is not None:
            raise WaitNotAllowed(
                f"waiting for command {command_id} inside step {self._in_step!r} of "
                f"{self.command.name}: wait from the handler body, not inside a step"
            )
        name = f"wait for command {command_id}"
        index, recorded = self._take_index(name)
        if recorded is not None:
            if recorded.status == StepStatus.SUCCEEDED:
                return unwrap_outcome(dict(recorded.output or {}))
            raise recorded_error(recorded)
        seconds = timeout if timeout is not None else settings.FOUNDRY_ACTOR_WAIT_SECONDS
        awaited = Command.objects.select_related("instance").get(pk=command_id)
        if awaited.status in FINISHED_STATUSES:
            return self._record_wait(index, name, outcome_of(awaited, str(awaited.instance)))
        # The claim judged the deadline on the database's clock.
        resuming = self.command.waiting_for_id == command_id
        if resuming and getattr(self.command, "wait_expired", False):
            return self._record_wait(index, name, {
                **outcome_of(awaited, str(awaited.instance)), "status": "timeout",
                "timeout": seconds,
            })
        suspended = transitions.suspend(
            self._lease, self.command, awaited=command_id, seconds=seconds,
            unwritten=self.take_unwritten_step(),
        )
        if isinstance(suspended, Cycle):
            error = WaitNotAllowed(
                f"{self.command.name} (command {self.command_id}) would wait on command "
                f"{command_id} through {' → '.join(suspended.path)}, which waits on "
                f"{self.actor_key}: a cycle of waiting mailboxes never ends"
            )
            self._record_failure(index, name, {"command_id": command_id}, time.monotonic(), error)
        raise Suspend(command_id, suspended)

    def _record_wait(self, index: int, name: str, outcome: dict[str, Any]) -> Any:
        transitions.write_step(self._lease, self._row(
            index, name, StepStatus.SUCCEEDED, 0.0, input={"command_id": outcome["command_id"]},
            output=outcome,
        ))
        return unwrap_outcome(outcome)

    def check_log_consumed(self) -> None:
        """A handler that finishes before reaching recorded steps diverged too."""
        leftover = [s for i, s in sorted(self._recorded.items()) if i >= self._next_index]
        if leftover:
            raise HistoryDiverged(
                command_name=self.command.name,
                command_id=self.command_id,
                index=leftover[0].index,
                expected="(handler finished)",
                recorded=leftover[0].name,
            )


__all__ = ["CommandContext", "NotSerializable", "Suspend", "current_context"]
