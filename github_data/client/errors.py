"""Errors of the GitHub client, and the translation from githubkit's exceptions.

Every request failure names the request that failed (method, full URL, status, GitHub's
message), because the sync records the error on the organization and a bare "502" in a
sync log tells nobody which of 400 requests broke.
"""

from __future__ import annotations

from typing import Any

import httpx
from githubkit.exception import (
    GitHubException,
    RateLimitExceeded,
    RequestError,
    RequestFailed,
)


class GitHubError(Exception):
    """Base of everything this client raises."""


class GitHubConfigError(GitHubError):
    """The client cannot be built: a setting is missing or unusable."""


class GitHubRequestError(GitHubError):
    """A request failed (after retries, where retrying made sense).

    `status` is None when no HTTP answer came back (connection refused, timeout).
    """

    def __init__(self, method: str, url: str, status: int | None, message: str) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.status is None:
            return f"{self.method} {self.url} failed: {self.message}"
        return f"{self.method} {self.url} failed with {self.status}: {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Celery pickles exceptions; rebuild from the fields, not from `args`.
        return (type(self), (self.method, self.url, self.status, self.message))


class GitHubAuthError(GitHubRequestError):
    """GitHub refused the App's credentials (JWT, installation token or installation)."""


class GitHubRateLimitError(GitHubRequestError):
    """Rate limited, and the wait GitHub asked for exceeds what we are allowed to sleep.

    `retry_after` (seconds) says when GitHub will accept requests again, so a caller can
    reschedule instead of holding a worker.
    """

    def __init__(
        self,
        method: str,
        url: str,
        status: int | None,
        message: str,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(method, url, status, message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.method, self.url, self.status, self.message, self.retry_after))


def unwrap(exc: BaseException) -> BaseException:
    """The real failure inside githubkit's wrappers.

    githubkit wraps anything raised while sending (transport errors, and errors raised by
    the auth flow such as a failed token request) in `RequestError(original)`.
    """
    while isinstance(exc, RequestError) and not isinstance(exc, RequestFailed):
        exc = exc.exc
    return exc


def request_of(exc: BaseException) -> httpx.Request | None:
    """The httpx request an exception belongs to, when it knows it."""
    if isinstance(exc, RequestFailed):
        return exc.request
    if isinstance(exc, httpx.RequestError):
        try:
            return exc.request
        except RuntimeError:  # httpx raises when the request was never attached
            return None
    return None


def is_token_request(request: httpx.Request) -> bool:
    return request.method == "POST" and request.url.path.endswith("/access_tokens")


def github_message(response: httpx.Response) -> str:
    """GitHub's own explanation: `message`, plus the `errors` details of a 422."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not body.get("message"):
        text = response.text.strip()
        return text[:200] if text else response.reason_phrase
    message = str(body["message"])
    details: list[str] = []
    for error in body.get("errors") or []:
        if isinstance(error, dict):
            details.append(
                str(error.get("message") or " ".join(
                    str(error[k]) for k in ("resource", "field", "code") if error.get(k)
                ))
            )
        else:
            details.append(str(error))
    return f"{message} ({'; '.join(details)})" if details else message


def translate(exc: GitHubException, method: str, url: str) -> GitHubError:
    """A GitHubError for a githubkit exception; `method`/`url` name the call when the
    exception itself does not know its request."""
    cause = unwrap(exc)
    if isinstance(cause, GitHubError):
        return cause  # raised by our own auth flow, already descriptive
    if isinstance(cause, RequestFailed):
        request, response = cause.request, cause.response.raw_response
        args = (request.method, str(request.url), response.status_code, github_message(response))
        if isinstance(cause, RateLimitExceeded):
            return GitHubRateLimitError(*args, retry_after=cause.retry_after.total_seconds())
        if response.status_code == 401 or (
            is_token_request(request) and response.status_code < 500
        ):
            return GitHubAuthError(*args)
        return GitHubRequestError(*args)
    sent = request_of(cause)
    if sent is not None:
        method, url = sent.method, str(sent.url)
    detail = str(cause) or repr(cause)
    return GitHubRequestError(method, url, None, f"{type(cause).__name__}: {detail}")
