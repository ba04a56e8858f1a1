"""Credentials: App JWTs, installation tokens, OAuth codes and OAuth user tokens."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import jwt

from .models import GitHubApp

INSTALLATION_TOKEN_TTL = 3600
OAUTH_CODE_TTL = 600
MAX_JWT_LIFETIME = 600  # GitHub refuses App JWTs valid for more than 10 minutes
CLOCK_DRIFT = 60  # GitHub accepts an `iat` up to a minute in the future


def normalized_scope(scope: str) -> str:
    """GitHub takes scopes separated by spaces or commas and grants them comma-joined."""
    names = [s for s in scope.replace(",", " ").split() if s]
    return ",".join(dict.fromkeys(names))


class AuthError(Exception):
    """401 with a GitHub-like message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Token:
    value: str
    kind: str  # "installation" | "user"
    expires_at: float | None
    installation_id: int | None = None
    login: str | None = None
    scope: str = ""

    def expires_iso(self) -> str | None:
        if self.expires_at is None:
            return None
        return datetime.fromtimestamp(self.expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class OAuthCode:
    code: str
    client_id: str
    redirect_uri: str
    login: str
    scope: str
    expires_at: float


def verify_app_jwt(token: str, app: GitHubApp, now: float | None = None) -> dict[str, object]:
    """Check an App JWT as GitHub does; raise AuthError with GitHub's wording otherwise."""
    current = time.time() if now is None else now
    try:
        # Expiry and iat are checked below with GitHub's own rules, not PyJWT's.
        claims: dict[str, object] = jwt.decode(
            token,
            app.public_key_pem,
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_iat": False, "verify_iss": False},
        )
    except jwt.InvalidSignatureError:
        raise AuthError("A JSON web token could not be decoded") from None
    except jwt.PyJWTError as exc:
        raise AuthError(f"A JSON web token could not be decoded ({exc})") from None
    iat, exp, iss = claims.get("iat"), claims.get("exp"), claims.get("iss")
    if not isinstance(iat, int | float) or not isinstance(exp, int | float):
        raise AuthError(
            "'Issued at' claim ('iat') and 'Expiration time' claim ('exp') are required"
        )
    if str(iss) != str(app.id):
        raise AuthError(f"'Issuer' claim ('iss') must be the app id {app.id}")
    if iat > current + CLOCK_DRIFT:
        raise AuthError(
            "'Issued at' claim ('iat') must be an Integer representing a time in the past"
        )
    if exp <= current:
        raise AuthError("'Expiration time' claim ('exp') is too far in the past")
    if exp - iat > MAX_JWT_LIFETIME:
        raise AuthError("'Expiration time' claim ('exp') is too far in the future")
    return claims


def make_app_jwt(app: GitHubApp, lifetime: int = 540, issued_ago: int = 60) -> str:
    """An App JWT as Foundry issues them (valid 9 minutes, issued 60 s in the past)."""
    now = int(time.time())
    payload = {"iat": now - issued_ago, "exp": now - issued_ago + lifetime, "iss": str(app.id)}
    return jwt.encode(payload, app.private_key_pem, algorithm="RS256")


class TokenStore:
    """Issued tokens and OAuth codes, thread-safe."""

    def __init__(self, installation_ttl: int = INSTALLATION_TOKEN_TTL) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, Token] = {}
        self._codes: dict[str, OAuthCode] = {}
        self.installation_ttl = installation_ttl

    def issue_installation_token(self, installation_id: int) -> Token:
        token = Token(
            value="ghs_" + secrets.token_urlsafe(27).replace("-", "a").replace("_", "b")[:36],
            kind="installation",
            expires_at=time.time() + self.installation_ttl,
            installation_id=installation_id,
        )
        with self._lock:
            self._tokens[token.value] = token
        return token

    def issue_user_token(self, login: str, scope: str) -> Token:
        token = Token(
            value="gho_" + secrets.token_urlsafe(27).replace("-", "a").replace("_", "b")[:36],
            kind="user",
            expires_at=None,  # OAuth App tokens do not expire
            login=login,
            scope=normalized_scope(scope),
        )
        with self._lock:
            self._tokens[token.value] = token
        return token

    def lookup(self, value: str) -> Token:
        with self._lock:
            token = self._tokens.get(value)
        if token is None:
            raise AuthError("Bad credentials")
        if token.expires_at is not None and token.expires_at <= time.time():
            raise AuthError("Bad credentials")
        return token

    def expire(self, value: str) -> None:
        """Make a token expired now (lets tests exercise token refresh)."""
        with self._lock:
            token = self._tokens[value]
            self._tokens[value] = Token(
                token.value,
                token.kind,
                time.time() - 1,
                token.installation_id,
                token.login,
                token.scope,
            )

    def revoke_installation(self, installation_id: int) -> None:
        with self._lock:
            for value in [
                v for v, t in self._tokens.items() if t.installation_id == installation_id
            ]:
                del self._tokens[value]

    def issue_code(self, client_id: str, redirect_uri: str, login: str, scope: str) -> OAuthCode:
        code = OAuthCode(
            secrets.token_hex(10),
            client_id,
            redirect_uri,
            login,
            scope,
            time.time() + OAUTH_CODE_TTL,
        )
        with self._lock:
            self._codes[code.code] = code
        return code

    def expire_code(self, code: str) -> None:
        """Make an OAuth code expired now (KeyError: no such code)."""
        with self._lock:
            found = self._codes[code]
            self._codes[code] = replace(found, expires_at=time.time() - 1)

    def redeem_code(self, code: str, client_id: str) -> OAuthCode | None:
        """One use only, as GitHub: a second exchange of the same code fails."""
        with self._lock:
            found = self._codes.pop(code, None)
        if found is None or found.expires_at <= time.time() or found.client_id != client_id:
            return None
        return found
