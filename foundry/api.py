"""The REST API at ``/api/v1/``: one django-ninja API, one router per app.

- **Auth**: a personal access token (``Authorization: Bearer fdy_…``, see
  ``users/tokens.py``) or the browser's session (with CSRF on unsafe
  methods). Every endpoint then checks membership exactly as the pages do:
  another organization's objects are 404.
- **Errors**: one schema for every error, ``{code, message, details}``, with
  the right status; an unexpected exception is logged and answered with the
  same schema (500, no stack trace), never with Django's page.
- **Rate limit** per token (or person): ``FOUNDRY_API_RATE_LIMIT``, then 429
  with ``Retry-After``.
- **Long work** answers 202 with the command id and a URL to follow it
  (``accepted``); ``?wait=SECONDS`` waits for commands that finish fast.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema, Status
from ninja.errors import (
    AuthenticationError,
    HttpError,
    Throttled,
    ValidationError,
)
from ninja.security import HttpBearer, SessionAuth
from ninja.throttling import SimpleRateThrottle

from foundry.actors.errors import (
    CommandCancelled,
    CommandFailed,
    CommandTimeout,
    InvalidPayload,
)
from foundry.actors.mailbox import CommandRef
from users.token_models import PersonalAccessToken
from users.tokens import authenticate as authenticate_token

logger = logging.getLogger(__name__)


class ErrorOut(Schema):
    code: str
    message: str
    details: Any = None


class ApiError(Exception):
    """An expected failure of a request, answered as ``ErrorOut``."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


# Every error status an endpoint may answer, for its ``response=`` in the schema.
ERRORS: dict[int, type[Schema]] = {
    code: ErrorOut for code in (400, 401, 403, 404, 409, 422, 429)
}


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> PersonalAccessToken | None:
        found = authenticate_token(token)
        if found is not None:
            request.user = found.user
        return found


class PersonRateThrottle(SimpleRateThrottle):
    """Per token (or per signed-in person); the rate is read per request so
    that a changed setting applies at once."""

    scope = "person"

    def __init__(self) -> None:
        super().__init__(rate=settings.FOUNDRY_API_RATE_LIMIT)

    def allow_request(self, request: HttpRequest) -> bool:
        self.rate = settings.FOUNDRY_API_RATE_LIMIT
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request)

    def get_cache_key(self, request: HttpRequest) -> str | None:
        auth = getattr(request, "auth", None)
        if isinstance(auth, PersonalAccessToken):
            # The token's random prefix: ids are reused by SQLite after deletes.
            ident = f"token-{auth.prefix}"
        elif isinstance(auth, User):
            ident = f"user-{auth.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return f"api-throttle-{ident}"


api = NinjaAPI(
    title="Foundry API",
    version="1",
    description=(
        "Organizations, tasks, sessions and the audit log of Foundry. Authenticate with a "
        "personal access token (`Authorization: Bearer fdy_…`) or the browser session."
    ),
    urls_namespace="api-v1",
    auth=[TokenAuth(), SessionAuth()],
    throttle=[PersonRateThrottle()],
)


def person(request: HttpRequest) -> User:
    """The person behind an authenticated request."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise AuthenticationError()
    return user


def _error(request: HttpRequest, status: int, code: str, message: str, details: Any = None
           ) -> HttpResponse:
    return api.create_response(
        request, {"code": code, "message": message, "details": details}, status=status
    )


_CODES = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 422: "invalid_request", 429: "rate_limited",
}


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return _error(request, exc.status, exc.code, exc.message, exc.details)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    details = [
        {"loc": list(e.get("loc", [])), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
        for e in exc.errors
    ]
    return _error(request, 422, "invalid_request", "the request is not valid", details)


@api.exception_handler(InvalidPayload)
def _invalid_payload(request: HttpRequest, exc: InvalidPayload) -> HttpResponse:
    return _error(request, 422, "invalid_request", str(exc))


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(
        request, 401, "unauthenticated",
        "authentication required: a personal access token (Authorization: Bearer …) or a"
        " signed-in session; the token may be revoked or expired",
    )


@api.exception_handler(Throttled)
def _throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    return _error(request, 429, "rate_limited", "too many requests; retry after Retry-After")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    status = exc.status_code
    if status == 403 and "CSRF" in str(exc):
        return _error(request, 403, "csrf_failed", "CSRF check failed for this session request")
    return _error(request, status, _CODES.get(status, "error"), str(exc))


@api.exception_handler(Http404)
def _http404(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, "not_found", str(exc) or "not found")


@api.exception_handler(ObjectDoesNotExist)
def _does_not_exist(request: HttpRequest, exc: ObjectDoesNotExist) -> HttpResponse:
    return _error(request, 404, "not_found", "not found")


@api.exception_handler(PermissionDenied)
def _permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _error(request, 403, "forbidden", str(exc) or "forbidden")


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("API %s %s failed", request.method, request.path)
    return _error(
        request, 500, "internal_error",
        "an internal error occurred; it was logged for the operators",
    )


# --- long work: 202, or the result when it finishes within ?wait -------------

class AcceptedOut(Schema):
    command_id: int
    status: str
    url: str
    result: Any = None


def accepted(request: HttpRequest, org: str, ref: CommandRef, wait: float
             ) -> Status[AcceptedOut]:
    """202 with the command to follow, or 200 with its result when it
    finished within ``wait`` seconds (at most FOUNDRY_API_MAX_WAIT_SECONDS).
    A command that failed is a 409 with its error."""
    url = f"/api/v1/orgs/{org}/commands/{ref.id}"
    wait = min(max(wait, 0.0), settings.FOUNDRY_API_MAX_WAIT_SECONDS)
    if wait > 0:
        try:
            result = ref.wait(timeout=wait)
        except CommandTimeout:
            pass
        except CommandFailed as exc:
            raise ApiError(
                409, "command_failed", exc.original_message,
                {"command_id": ref.id, "error_type": exc.error_type},
            ) from exc
        except CommandCancelled as exc:
            raise ApiError(409, "command_cancelled", str(exc), {"command_id": ref.id}) from exc
        else:
            return Status(
                200, AcceptedOut(command_id=ref.id, status="succeeded", url=url, result=result)
            )
    return Status(202, AcceptedOut(command_id=ref.id, status="queued", url=url))


api.add_router("/", "users.api.router")
api.add_router("/", "orgs.api.router")
api.add_router("/", "tasks.api.router")
api.add_router("/", "audit_log.api.router")
api.add_router("/actors", "foundry.inspection_api.router")
