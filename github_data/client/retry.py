"""When to retry a failed GitHub request, and how long to wait first.

githubkit retries inside `GitHubCore.request` (so also every page of `rest.paginate` and the
token request made by the auth flow) by asking a decision function, and sleeps for the
wait it returns. Its defaults don't fit us: one retry for rate limits, and fixed
1, 4, 9… s waits for server errors with no cap. `RetryPolicy` is that decision function:

- rate limits (githubkit's `RateLimitExceeded`): wait what GitHub asked for, `Retry-After`
  (secondary) or until `X-RateLimit-Reset` (primary); a 403/429 that says "secondary rate
  limit" without `Retry-After` waits a minute, as GitHub documents. A wait longer than
  `max_wait` is not slept at all: a shorter sleep would only earn another 403, so the
  error goes to the caller at once with `retry_after` to reschedule by;
- 5xx and transport errors: exponential backoff (`backoff * 2**n`, jittered, capped at
  `max_wait`), but only for requests that are safe to repeat: a POST that reached GitHub
  may have created the pull request. Connection failures (nothing was sent) and the token
  request are always safe;
- at most `max_retries` retries (`max_retries + 1` attempts) per request.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

import httpx
from githubkit.exception import (
    GitHubException,
    PrimaryRateLimitExceeded,
    RateLimitExceeded,
    RequestFailed,
)
from githubkit.retry import RetryOption

from .errors import github_message, is_token_request, request_of, unwrap

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
SECONDARY_DEFAULT_WAIT = 60.0  # GitHub: without Retry-After, wait at least a minute
# X-RateLimit-Reset is in whole seconds; never sleep less than this for a primary limit,
# or a reset that is "now" on our clock but not yet on GitHub's would be retried at once.
PRIMARY_MIN_WAIT = 1.0
NO_RETRY = RetryOption(False)


def safe_to_repeat(request: httpx.Request | None) -> bool:
    if request is None:
        return False
    return request.method in SAFE_METHODS or is_token_request(request)


class RetryPolicy:
    """A githubkit `RetryDecisionFunc` (see the module docstring)."""

    def __init__(self, *, max_retries: int, max_wait: float, backoff: float) -> None:
        self.max_retries = max(0, max_retries)
        self.max_wait = max(0.0, max_wait)
        self.backoff = max(0.0, backoff)

    def __call__(self, exc: GitHubException, retry_count: int) -> RetryOption:
        if retry_count >= self.max_retries:
            return NO_RETRY
        cause = unwrap(exc)
        request = request_of(cause)
        wait = self._wait_for(cause, request, retry_count)
        if wait is None:
            return NO_RETRY
        log.warning(
            "GitHub %s %s: %s; retry %d/%d in %.1fs",
            request.method if request else "?",
            request.url if request else "?",
            _describe(cause),
            retry_count + 1,
            self.max_retries,
            wait,
        )
        return RetryOption(True, timedelta(seconds=wait))

    def _wait_for(
        self, cause: BaseException, request: httpx.Request | None, retry_count: int
    ) -> float | None:
        """Seconds to sleep before the next attempt, or None: do not retry."""
        if isinstance(cause, RateLimitExceeded):
            wait = cause.retry_after.total_seconds()
            if isinstance(cause, PrimaryRateLimitExceeded):
                wait = max(wait, PRIMARY_MIN_WAIT)
            return wait if wait <= self.max_wait else None
        if isinstance(cause, RequestFailed):
            status = cause.response.status_code
            if status >= 500:
                return self._backoff(retry_count) if safe_to_repeat(request) else None
            if status in (403, 429) and "secondary rate limit" in github_message(
                cause.response.raw_response
            ):
                return SECONDARY_DEFAULT_WAIT if SECONDARY_DEFAULT_WAIT <= self.max_wait else None
            return None
        if isinstance(cause, httpx.TransportError):
            nothing_sent = isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout)
            if nothing_sent or safe_to_repeat(request):
                return self._backoff(retry_count)
        return None

    def _backoff(self, retry_count: int) -> float:
        wait: float = min(self.max_wait, self.backoff * 2.0**retry_count)
        return wait * (1 - random.random() * 0.25)  # jitter: clients retrying together spread


def _describe(cause: BaseException) -> str:
    if isinstance(cause, RequestFailed):
        return f"{cause.response.status_code} {github_message(cause.response.raw_response)}"
    return f"{type(cause).__name__}: {cause}"
