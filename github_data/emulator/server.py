"""The HTTP server: one stdlib ThreadingHTTPServer for the API, OAuth, git and control."""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import recording
from .api import build_api_router
from .api_app import SUSPENDED
from .auth import AuthError, Token, verify_app_jwt
from .control import build_control_router
from .faults import PRIMARY_DOCS, SECONDARY_DOCS, SECONDARY_MESSAGE, Fault
from .githttp import GIT_PATH, run_http_backend
from .models import EmulatorError, NotFound
from .oauth import build_oauth_router
from .routing import HttpError, Request, Response, Route, Router
from .state import EmulatorState

log = logging.getLogger(__name__)


class EmulatorApp:
    """Turns one parsed HTTP request into (status, headers, body)."""

    def __init__(self, state: EmulatorState, app_info: Callable[[], dict[str, Any]]) -> None:
        self.state = state
        self.api = build_api_router(state)
        self.oauth = build_oauth_router(state)
        self.control = build_control_router(state, app_info)

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        parts = urlsplit(target)
        path = parts.path.rstrip("/") or "/"
        rid = "-".join(uuid.uuid4().hex[i : i + 4].upper() for i in range(0, 20, 4)).replace(
            "-", ":"
        )
        req = Request(method, path, dict(parse_qsl(parts.query)), headers, body, rid, parts.query)
        area = _area(path)
        is_api = area == "api"
        rate_override: dict[str, int] | None = None
        try:
            outage = self.state.faults.outage
            if outage is not None and area != "control":
                self.state.counter.add(f"{method} (outage)")
                if outage.drop:
                    raise DropConnection(f"outage: {method} {path} dropped")
                raise HttpError(outage.status, _SERVER_ERRORS.get(outage.status, "Server Error"))
            if area == "control":
                response = self._dispatch(self.control, req, "emulator")
            elif area == "git":
                self.state.counter.add(f"GIT {method}")
                self._check_fault(req, is_api=False)
                response = self._git(req)
            elif area == "avatar":
                self.state.counter.add("GET /_avatars/{id}")
                response = _avatar(path.rsplit("/", 1)[-1])
            else:
                response = self._dispatch(self.api if is_api else self.oauth, req, "api")
        except _Faulted as faulted:
            response, rate_override = faulted.response, faulted.rate
        except HttpError as exc:
            response = exc.response()
        except EmulatorError as exc:
            response = HttpError(exc.status, exc.message, exc.errors).response()
        except AuthError as exc:
            response = HttpError(401, exc.message).response()
        except DropConnection:
            raise
        except Exception as exc:  # a bug in the emulator: answer 500 and log it loudly
            log.exception("emulator failed on %s %s", method, target)
            response = HttpError(500, f"emulator error: {type(exc).__name__}: {exc}").response()
        status, out_headers, payload = self._finish(req, response, is_api, rate_override)
        if recording.listening():
            recording.publish(
                recording.Exchange(
                    method=method,
                    path=path,
                    query=parts.query,
                    area=area,
                    route=req.route,
                    status=status,
                    content_type=response.content_type,
                    body=payload,
                )
            )
        return status, out_headers, payload

    # -- dispatch -------------------------------------------------------------------------

    def _dispatch(self, router: Router, req: Request, area: str) -> Response:
        found = router.match(req.method, req.path)
        if found is None:
            self.state.counter.add(f"{req.method} (unmatched)")
            if area == "api":
                self._apply_latency()
            raise HttpError(404, "Not Found")
        route, params = found
        req.params, req.route = params, route.template
        self.state.counter.add(route.kind)
        if area == "api":
            self._check_fault(req, is_api=not route.template.startswith("/login/"))
            self._authenticate(route, req)
            if route.template != "/rate_limit" and not route.template.startswith("/login/"):
                self.state.rate.consume()
        return route.handler(req)

    def _apply_latency(self) -> None:
        if self.state.faults.latency > 0:
            time.sleep(self.state.faults.latency)

    def _check_fault(self, req: Request, is_api: bool) -> None:
        """Apply the injected latency; raise `_Faulted` when a fault rule takes this request."""
        self._apply_latency()
        fault = self.state.faults.take(req.path, is_api)
        if fault is not None:
            raise _Faulted(*_fault_response(fault, req, self.state))

    def _authenticate(self, route: Route, req: Request) -> None:
        ds = self.state.dataset
        scheme, _, credential = req.headers.get("authorization", "").partition(" ")
        credential = credential.strip()
        if route.auth == "none":
            return
        if route.auth == "jwt":
            if scheme.lower() != "bearer" or not credential:
                raise HttpError(401, "A JSON web token could not be decoded")
            verify_app_jwt(credential, ds.app)
            return
        if not credential:
            if route.auth == "optional":
                return
            raise HttpError(401, "Requires authentication")
        if scheme.lower() not in ("token", "bearer"):
            raise HttpError(401, "Bad credentials")
        token = self._token(credential)
        if route.auth == "installation" and token.kind != "installation":
            raise HttpError(
                403,
                "You must authenticate with an installation access token "
                "in order to use this endpoint.",
            )
        if route.auth == "user" and token.kind != "user":
            raise HttpError(403, "Resource not accessible by integration")
        req.token = token

    def _token(self, value: str) -> Token:
        token = self.state.tokens.lookup(value)
        if token.kind == "installation":
            ds = self.state.dataset
            with ds.lock:
                inst = ds.installations.get(token.installation_id or 0)
                if inst is None:
                    raise HttpError(401, "Bad credentials")  # the app was uninstalled since
                if inst.suspended_at is not None:
                    raise HttpError(403, SUSPENDED)
        return token

    # -- git --------------------------------------------------------------------------------

    def _git(self, req: Request) -> Response:
        ds = self.state.dataset
        match = GIT_PATH.match(req.path)
        assert match is not None
        try:  # the organization's repositories and users' forks of them
            with ds.lock:
                found = ds.repo(f"{match.group('owner')}/{match.group('repo')}")
                owner, repo = ds.owner_login(found), found.name
        except NotFound:
            raise HttpError(404, "Repository not found") from None
        actor = self._git_actor(req)
        ds.git.materialize(owner, repo)  # repositories are written to disk on first use
        canonical = f"/{owner}/{repo}.git{match.group('rest')}"
        result = run_http_backend(
            ds.git.root,
            req.method,
            canonical,
            req.raw_query,
            req.headers,
            req.body,
            actor or "emulator",
        )
        if req.path.endswith("/git-receive-pack") and result.status == 200:
            # The refs on disk moved: bring the API (and webhooks) in line with them.
            ds.sync_from_git(f"{owner}/{repo}", actor if actor in ds.users else None)
        ctype = next((v for k, v in result.headers if k.lower() == "content-type"), "text/plain")
        others = [
            (k, v) for k, v in result.headers if k.lower() not in ("content-type", "content-length")
        ]
        return Response(result.status, result.body, others, content_type=ctype)

    def _git_actor(self, req: Request) -> str | None:
        """Basic auth as GitHub takes it (`x-access-token:<token>`); the token is checked."""
        scheme, _, credential = req.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            if self.state.git_require_auth:
                raise HttpError(
                    401,
                    "Authentication required",
                    headers=[("WWW-Authenticate", 'Basic realm="GitHub"')],
                )
            return None
        try:
            user, _, password = base64.b64decode(credential).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise HttpError(401, "Bad credentials") from None
        try:
            token = self._token(password or user)
        except (AuthError, HttpError):
            raise HttpError(
                401, "Bad credentials", headers=[("WWW-Authenticate", 'Basic realm="GitHub"')]
            ) from None
        return token.login if token.kind == "user" else self.state.dataset.bot_login

    # -- the response ---------------------------------------------------------------------

    def _finish(
        self, req: Request, response: Response, is_api: bool, rate: dict[str, int] | None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        body = response.encoded()
        rate = rate or self.state.rate.snapshot()
        headers = [
            ("Content-Type", response.content_type),
            ("X-GitHub-Request-Id", req.request_id),
            ("X-GitHub-Media-Type", "github.v3; format=json"),
            (
                "X-GitHub-Api-Version-Selected",
                req.headers.get("x-github-api-version", "2022-11-28"),
            ),
            ("X-RateLimit-Limit", str(rate["limit"])),
            ("X-RateLimit-Remaining", str(rate["remaining"])),
            ("X-RateLimit-Used", str(rate["used"])),
            ("X-RateLimit-Reset", str(rate["reset"])),
            ("X-RateLimit-Resource", "core" if is_api else "none"),
            *response.headers,
        ]
        if req.token is not None and req.token.kind == "user":
            # What GitHub tells an OAuth token's caller about the scopes it was granted.
            headers.append(("X-OAuth-Scopes", ", ".join(req.token.scope.split(","))))
        return response.status, headers, body


def _area(path: str) -> str:
    """Which part of the emulator a path is for (see `conformance.UNDOCUMENTED_AREAS`)."""
    if path.startswith("/_emulator/"):
        return "control"
    if GIT_PATH.match(path):
        return "git"
    if path.startswith("/_avatars/"):
        return "avatar"
    return "oauth" if path.startswith("/login/oauth/") else "api"


_SERVER_ERRORS = {500: "Server Error", 502: "Server Error", 503: "Service Unavailable"}


class DropConnection(Exception):
    """The request gets no answer: its connection is closed (an outage with `drop`)."""


class _Faulted(Exception):
    def __init__(self, response: Response, rate: dict[str, int] | None) -> None:
        super().__init__("injected fault")
        self.response = response
        self.rate = rate


def _fault_response(
    fault: Fault, req: Request, state: EmulatorState
) -> tuple[Response, dict[str, int] | None]:
    if fault.kind == "error":
        message = _SERVER_ERRORS.get(fault.status, "Server Error")
        return HttpError(fault.status, message).response(), None
    if fault.kind == "secondary":
        error = HttpError(
            403,
            SECONDARY_MESSAGE.format(rid=req.request_id),
            headers=[("Retry-After", str(fault.retry_after))],
            docs=SECONDARY_DOCS,
        )
        return error.response(), None
    limit = state.rate.limit
    inst = state.dataset.installation
    who = f"installation ID {inst.id}" if inst else "this client"
    rate = {
        "limit": limit,
        "remaining": 0,
        "used": limit,
        "reset": int(time.time()) + fault.reset_in,
    }
    error = HttpError(fault.status, f"API rate limit exceeded for {who}.", docs=PRIMARY_DOCS)
    return error.response(), rate


def _avatar(ident: str) -> Response:
    color = hashlib.sha1(ident.encode()).hexdigest()[:6]
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 8 8">'
        f'<rect width="8" height="8" fill="#{color}"/>'
        '<rect x="2" y="2" width="4" height="4" fill="#fff" fill-opacity="0.4"/></svg>'
    )
    return Response(
        200, svg.encode(), [("Cache-Control", "max-age=86400")], content_type="image/svg+xml"
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: SDK clients reuse connections
    timeout = 60  # close idle keep-alive connections eventually
    # Headers and body go out in two writes; with Nagle on, the client's delayed ACK adds
    # ~40 ms to every keep-alive request.
    disable_nagle_algorithm = True
    server: EmulatorHTTPServer

    def _serve(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._read_chunked()  # git sends large pushes chunked
        else:
            body = self.rfile.read(int(headers.get("content-length") or 0))
        try:
            status, out_headers, payload = self.server.app.handle(
                self.command, self.path, headers, body
            )
        except DropConnection:
            self.close_connection = True  # the client sees the server go away
            return
        self.send_response(status)
        for key, value in out_headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s - %s", self.address_string(), format % args)


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, app: EmulatorApp) -> None:
        self.app = app
        super().__init__((host, port), _Handler)
