"""Every emulator response the suite makes, checked against GitHub's REST description.

A session-wide listener on `github_data.emulator.recording` queues each exchange
that any emulator started in this process serves (worker processes talk to
those emulators too, so their requests are included). After each test the queue
is checked with `ConformanceChecker` and the test errors at teardown, naming
every violation; what arrives between tests is checked with the next test, and
what is left at the end of the session then. The terminal summary says how many
responses were validated and how long it took.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import pytest

from github_data.emulator import recording
from github_data.emulator.conformance import (
    UNDOCUMENTED_AREAS,
    ConformanceChecker,
    RestDescription,
    Violation,
)

MAX_REPORTED_GROUPS = 20


class EmulatorConformance:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[recording.Exchange] = []
        self._checker: ConformanceChecker | None = None
        self.seconds = 0.0

    def record(self, exchange: recording.Exchange) -> None:
        with self._lock:
            self._pending.append(exchange)

    def checker(self) -> ConformanceChecker:
        if self._checker is None:  # loaded on first use: 13 MB that most runs of -k skip
            started = time.perf_counter()
            self._checker = ConformanceChecker(RestDescription.load())
            self.seconds += time.perf_counter() - started
        return self._checker

    def check_pending(self) -> list[Violation]:
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return []
        started = time.perf_counter()
        try:
            checker = self.checker()
            return [v for exchange in pending for v in checker.check(exchange)]
        finally:
            self.seconds += time.perf_counter() - started

    def summary(self) -> str | None:
        if self._checker is None:
            return None
        c = self._checker
        excluded = ", ".join(f"{area} {c.excluded.get(area, 0)}" for area in UNDOCUMENTED_AREAS)
        return (
            f"{c.validated} JSON responses validated against @octokit/openapi "
            f"{c.description.version}, {c.status_only} checked for status only; "
            f"excluded by name: {excluded}; {self.seconds:.1f}s spent checking"
        )


def report(violations: list[Violation]) -> str:
    """Violations grouped by operation, JSON path (indices as [*]) and message."""
    groups: dict[tuple[str, str, str], list[Violation]] = {}
    for v in violations:
        key = (v.operation, re.sub(r"\[\d+\]", "[*]", v.json_path), v.message)
        groups.setdefault(key, []).append(v)
    lines = [
        f"{len(violations)} emulator response violation(s) of GitHub's REST description "
        f"({len(groups)} distinct):"
    ]
    for (_, _, _), members in list(groups.items())[:MAX_REPORTED_GROUPS]:
        more = f" (and {len(members) - 1} more like it)" if len(members) > 1 else ""
        lines.append(f"  {members[0]}{more}")
    if len(groups) > MAX_REPORTED_GROUPS:
        lines.append(f"  ... {len(groups) - MAX_REPORTED_GROUPS} more distinct violations")
    return "\n".join(lines)


_session: EmulatorConformance | None = None


@pytest.fixture(scope="session", autouse=True)
def emulator_conformance() -> Iterator[EmulatorConformance]:
    global _session
    conformance = _session = EmulatorConformance()
    recording.add_listener(conformance.record)
    try:
        yield conformance
    finally:
        recording.remove_listener(conformance.record)
    leftover = conformance.check_pending()
    if leftover:
        pytest.fail(report(leftover), pytrace=False)


@pytest.fixture(autouse=True)
def emulator_responses_conform(emulator_conformance: EmulatorConformance) -> Iterator[None]:
    """Fails the test (at teardown) when an emulator answered it off GitHub's description."""
    yield
    violations = emulator_conformance.check_pending()
    if violations:
        pytest.fail(report(violations), pytrace=False)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _session is not None and (line := _session.summary()) is not None:
        terminalreporter.write_line(f"emulator conformance: {line}")
