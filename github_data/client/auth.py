"""GitHub App authentication: App JWTs and cached installation tokens.

githubkit's `AppInstallationAuthStrategy` does the JWT → installation-token exchange, and we
reuse its `AppAuth` helpers (building and checking the token request, routing App-only
endpoints to the JWT). We replace three things around them:

- its JWTs are valid 10 minutes; Foundry's are valid 9 minutes, issued 60 s in the past
  (clock drift between us and GitHub), as the original system did;
- it caches tokens in a store shared by every githubkit client in the process, keyed by app
  and installation only, so two API hosts (tests run several emulators) would share tokens;
  here each client owns its token, cached until 5 minutes before GitHub's `expires_at`;
- a cached token GitHub rejects with 401 (revoked, or expired early) is dropped and the
  request sent once more with a fresh one, instead of failing the whole sync.

Token fetching holds a lock, so threads sharing a client ask for one token, not one each.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import jwt
from githubkit.auth import BaseAuthStrategy
from githubkit.auth._url import require_app_auth, require_basic_auth, require_bypass
from githubkit.auth.app import AppAuth

from .errors import GitHubAuthError

if TYPE_CHECKING:
    from githubkit import GitHubCore

JWT_LIFETIME_SECONDS = 9 * 60
JWT_BACKDATE_SECONDS = 60
# Sign a new JWT when the current one has less than this left: a JWT only authenticates
# the token request (and App endpoints), so it must outlive one round trip.
JWT_REUSE_MARGIN_SECONDS = 60
# Fetch a new installation token this long before GitHub says the old one expires.
TOKEN_REFRESH_MARGIN_SECONDS = 5 * 60


class AppJWTSigner:
    """Signs App JWTs (RS256) and reuses one until shortly before it expires."""

    def __init__(self, app_id: str, private_key_pem: str) -> None:
        self.app_id = app_id
        self.private_key_pem = private_key_pem
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def sign(self, now: float | None = None) -> tuple[str, float]:
        issued_at = int(time.time() if now is None else now) - JWT_BACKDATE_SECONDS
        expires_at = issued_at + JWT_LIFETIME_SECONDS
        claims = {"iat": issued_at, "exp": expires_at, "iss": self.app_id}
        return jwt.encode(claims, self.private_key_pem, algorithm="RS256"), float(expires_at)

    def get(self) -> str:
        with self._lock:
            if self._token is None or time.time() >= self._expires_at - JWT_REUSE_MARGIN_SECONDS:
                self._token, self._expires_at = self.sign()
            return self._token


class InstallationTokenCache:
    """One installation token, valid until `expires_at` minus a margin. Thread-safe."""

    def __init__(self) -> None:
        self.fetch_lock = threading.Lock()  # held while one thread asks GitHub for a token
        self._lock = threading.Lock()
        self._token: str | None = None
        self._use_until = 0.0

    def get(self) -> str | None:
        with self._lock:
            if self._token is not None and time.time() < self._use_until:
                return self._token
            return None

    def put(self, token: str, expires_at: datetime) -> None:
        now = time.time()
        lifetime = expires_at.timestamp() - now
        # A token living shorter than twice the margin (only ever in tests) is used for
        # half its life rather than never cached.
        margin = min(TOKEN_REFRESH_MARGIN_SECONDS, lifetime / 2)
        with self._lock:
            self._token, self._use_until = token, now + lifetime - margin

    def forget(self, token: str) -> None:
        """Drop `token` if it is still the cached one (another thread may have replaced it)."""
        with self._lock:
            if self._token == token:
                self._token, self._use_until = None, 0.0


class FoundryAppAuth(AppAuth):
    """githubkit's App auth hook with our JWT and our installation-token cache."""

    def __init__(
        self,
        github: GitHubCore[Any],
        signer: AppJWTSigner,
        tokens: InstallationTokenCache,
        installation_id: int | None,
    ) -> None:
        if installation_id is None:
            super().__init__(github, signer.app_id, signer.private_key_pem)
        else:
            super().__init__(
                github, signer.app_id, signer.private_key_pem, installation_id=installation_id
            )
        self.signer = signer
        self.tokens = tokens

    def get_jwt(self) -> str:
        try:
            return self.signer.get()
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            # The key was checked when the client was built, so this is rare; name the
            # request the JWT was for (the token request, or App endpoints).
            base = str(self.github.config.base_url)
            url = f"{base}app/installations/{self.installation_id}/access_tokens"
            raise GitHubAuthError(
                "POST" if self.installation_id else "JWT",
                url if self.installation_id else f"{base}app",
                None,
                f"cannot sign the App JWT with the configured private key ({exc})",
            ) from exc

    def _needs_installation_token(self, request: httpx.Request) -> bool:
        return not (
            require_bypass(request.url)
            or require_app_auth(self._get_api_route(request.url))
            or require_basic_auth(request.url)
        )

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        if not self._needs_installation_token(request):
            # App endpoints (JWT) and the rest: githubkit's flow, with our get_jwt().
            yield from super().sync_auth_flow(request)
            return
        token = self.tokens.get()
        fresh = token is None
        if token is None:
            token = yield from self._fetch_token()
        request.headers["Authorization"] = f"token {token}"
        response = yield request
        if response.status_code == 401 and not fresh:
            # A cached token GitHub no longer accepts: one new token, one resend.
            self.tokens.forget(token)
            token = yield from self._fetch_token()
            request.headers["Authorization"] = f"token {token}"
            yield request

    def _fetch_token(self) -> Generator[httpx.Request, httpx.Response, str]:
        # The lock is held across the token request. httpx drives this generator in the
        # calling thread and closes it on any error, so the lock is always released.
        with self.tokens.fetch_lock:
            cached = self.tokens.get()
            if cached is not None:  # another thread fetched one while we waited
                return cached
            token_request = self._build_installation_auth_request()
            token_request.headers["Authorization"] = f"Bearer {self.get_jwt()}"
            response = yield token_request
            response.read()
            # Raises RequestFailed / RateLimitExceeded like any API call, so the retry
            # policy and the error translation treat the token request like the others.
            parsed = self._parse_installation_auth_response(response).parsed_data
            expires_at = datetime.fromisoformat(parsed.expires_at.replace("Z", "+00:00"))
            self.tokens.put(parsed.token, expires_at)
            return parsed.token

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        raise NotImplementedError("Foundry's GitHub client is synchronous (Celery workers)")
        yield request  # pragma: no cover - makes this an async generator


@dataclass
class FoundryAppAuthStrategy(BaseAuthStrategy):
    """Authenticate as the App's installation (or as the App alone, `installation_id=None`).

    The strategy owns the token cache, so every httpx client githubkit builds from it
    shares one token.
    """

    signer: AppJWTSigner
    installation_id: int | None
    tokens: InstallationTokenCache = field(default_factory=InstallationTokenCache)

    def get_auth_flow(self, github: GitHubCore[Any]) -> httpx.Auth:
        return FoundryAppAuth(github, self.signer, self.tokens, self.installation_id)
