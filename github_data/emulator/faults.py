"""Failure injection, the primary rate limit and per-route request counters."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
    "again. If you reach out to GitHub Support for help, please include the request ID {rid}."
)
SECONDARY_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)
PRIMARY_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
    "#about-the-primary-rate-limit"
)


@dataclass
class _Rule:
    kind: str  # "error" | "secondary" | "primary"
    remaining: int
    status: int
    path_prefix: str | None
    retry_after: int = 0
    reset_in: int = 0


@dataclass(frozen=True)
class Fault:
    """What the server must answer instead of the real response."""

    kind: str
    status: int
    retry_after: int = 0
    reset_in: int = 0


@dataclass(frozen=True)
class Outage:
    """GitHub down: every request but the control routes' answers `status`, or, with
    `drop`, gets its connection closed without an answer (unreachable, as a client sees
    a network failure)."""

    status: int = 503
    drop: bool = False


@dataclass
class FaultInjector:
    """Switches settable from tests (Python) or over HTTP (`POST /_emulator/faults`).

    Rules are consumed in the order they were added; a rule with a path prefix only
    matches (and only counts down on) requests under that prefix. Without a prefix a rule
    matches API requests only, not git transport, the OAuth web flow nor the control
    endpoints: `fail_next(path_prefix="/login/oauth/access_token")` fails the next code
    exchange. An outage (`start_outage`) takes every request but the control routes'
    (API, OAuth, git) until `end_outage` or `clear`.
    """

    latency: float = 0.0
    outage: Outage | None = None
    _rules: list[_Rule] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start_outage(self, status: int = 503, drop: bool = False) -> None:
        if not drop and status < 500:
            raise ValueError("an outage answers server errors (5xx), or drops connections")
        self.outage = Outage(status, drop)

    def end_outage(self) -> None:
        self.outage = None

    def fail_next(self, count: int = 1, status: int = 502, path_prefix: str | None = None) -> None:
        if status < 500:
            raise ValueError("fail_next injects server errors (5xx)")
        self._add(_Rule("error", count, status, path_prefix))

    def secondary_rate_limit(
        self, count: int = 1, retry_after: int = 1, path_prefix: str | None = None
    ) -> None:
        self._add(_Rule("secondary", count, 403, path_prefix, retry_after=retry_after))

    def exhaust_rate_limit(
        self, count: int = 1, status: int = 403, reset_in: int = 60, path_prefix: str | None = None
    ) -> None:
        if status not in (403, 429):
            raise ValueError("GitHub answers an exhausted primary rate limit with 403 or 429")
        self._add(_Rule("primary", count, status, path_prefix, reset_in=reset_in))

    def set_latency(self, seconds: float) -> None:
        self.latency = max(0.0, seconds)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
        self.latency = 0.0
        self.outage = None

    def _add(self, rule: _Rule) -> None:
        if rule.remaining < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._rules.append(rule)

    def take(self, path: str, is_api: bool) -> Fault | None:
        """Consume and return the first rule matching this request, if any."""
        with self._lock:
            for rule in self._rules:
                matches = path.startswith(rule.path_prefix) if rule.path_prefix else is_api
                if not matches:
                    continue
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._rules.remove(rule)
                return Fault(rule.kind, rule.status, rule.retry_after, rule.reset_in)
        return None

    def describe(self) -> dict[str, Any]:
        with self._lock:
            rules = [
                {
                    "kind": r.kind,
                    "remaining": r.remaining,
                    "status": r.status,
                    "path_prefix": r.path_prefix,
                    "retry_after": r.retry_after,
                    "reset_in": r.reset_in,
                }
                for r in self._rules
            ]
        outage = self.outage
        described = None if outage is None else {"status": outage.status, "drop": outage.drop}
        return {"latency": self.latency, "rules": rules, "outage": described}

    def configure(self, spec: dict[str, Any]) -> None:
        """Apply one JSON command of `POST /_emulator/faults`."""
        action = spec.get("action")
        count = int(spec.get("count", 1))
        prefix = spec.get("path_prefix")
        if action == "fail_next":
            self.fail_next(count, int(spec.get("status", 502)), prefix)
        elif action == "secondary_rate_limit":
            self.secondary_rate_limit(count, int(spec.get("retry_after", 1)), prefix)
        elif action == "exhaust_rate_limit":
            self.exhaust_rate_limit(
                count, int(spec.get("status", 403)), int(spec.get("reset_in", 60)), prefix
            )
        elif action == "latency":
            self.set_latency(float(spec.get("seconds", 0)))
        elif action == "outage":
            self.start_outage(int(spec.get("status", 503)), bool(spec.get("drop", False)))
        elif action == "end_outage":
            self.end_outage()
        elif action == "clear":
            self.clear()
        else:
            raise ValueError(
                "action must be one of fail_next, secondary_rate_limit, exhaust_rate_limit, "
                "latency, outage, end_outage, clear"
            )


class RateLimiter:
    """One primary (`core`) budget for the whole emulator, reset every hour."""

    def __init__(self, limit: int = 5000, window: int = 3600) -> None:
        self.limit = limit
        self.window = window
        self._lock = threading.Lock()
        self._used = 0
        self._reset_at = int(time.time()) + window

    def _roll(self) -> None:
        if time.time() >= self._reset_at:
            self._used = 0
            self._reset_at = int(time.time()) + self.window

    def consume(self) -> None:
        with self._lock:
            self._roll()
            self._used += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            self._roll()
            return {
                "limit": self.limit,
                "used": self._used,
                "remaining": max(0, self.limit - self._used),
                "reset": self._reset_at,
            }

    def reset(self) -> None:
        with self._lock:
            self._used = 0
            self._reset_at = int(time.time()) + self.window


class RequestCounter:
    """Requests seen, per route template (e.g. `GET /repos/{owner}/{repo}/pulls`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
