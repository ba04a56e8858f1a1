"""The OAuth App web flow: authorize (auto-approved or denied) and the code exchange."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from .models import NotFound
from .routing import HttpError, Request, Response, Router
from .state import EmulatorState

OAUTH_DOCS = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors"


def _with_query(uri: str, params: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def build_oauth_router(state: EmulatorState) -> Router:
    ds = state.dataset
    router = Router()

    def signed_in_login(req: Request) -> str:
        """`login=` suggests an account (as on GitHub); else the configured default user."""
        for candidate in (req.query.get("login"), state.oauth.user):
            if candidate:
                try:
                    return ds.user(candidate).login
                except NotFound:
                    if candidate == state.oauth.user:
                        raise HttpError(
                            500, f"configured OAuth user {candidate!r} does not exist"
                        ) from None
        members = list(ds.org.members)
        if not members:
            raise HttpError(500, "the emulated organization has no member to sign in as")
        return members[0]

    def authorize(req: Request) -> Response:
        client_id = req.query.get("client_id", "")
        if client_id != ds.oauth_app.client_id:
            raise HttpError(404, "Not Found: unknown OAuth client_id")
        redirect_uri = req.query.get("redirect_uri")
        if not redirect_uri:
            raise HttpError(400, "redirect_uri is required by this emulator")
        extra = {"state": req.query["state"]} if "state" in req.query else {}
        if state.oauth.deny:
            params = {
                "error": "access_denied",
                "error_description": "The user has denied your application access.",
                "error_uri": OAUTH_DOCS,
                **extra,
            }
            return Response(302, None, [("Location", _with_query(redirect_uri, params))])
        scope = req.query.get("scope", "")
        code = state.tokens.issue_code(client_id, redirect_uri, signed_in_login(req), scope)
        location = _with_query(redirect_uri, {"code": code.code, **extra})
        return Response(302, None, [("Location", location)])

    def access_token(req: Request) -> Response:
        form = req.form()
        body: dict[str, Any]
        if (
            form.get("client_id") != ds.oauth_app.client_id
            or form.get("client_secret") != ds.oauth_app.client_secret
        ):
            body = {
                "error": "incorrect_client_credentials",
                "error_description": "The client_id and/or client_secret passed are incorrect.",
                "error_uri": OAUTH_DOCS,
            }
        else:
            code = state.tokens.redeem_code(form.get("code", ""), form["client_id"])
            if code is None:
                body = {
                    "error": "bad_verification_code",
                    "error_description": "The code passed is incorrect or expired.",
                    "error_uri": OAUTH_DOCS,
                }
            elif form.get("redirect_uri") and form["redirect_uri"] != code.redirect_uri:
                body = {
                    "error": "redirect_uri_mismatch",
                    "error_description": (
                        "The redirect_uri MUST match the registered callback URL "
                        "for this application."
                    ),
                    "error_uri": OAUTH_DOCS,
                }
            else:
                token = state.tokens.issue_user_token(code.login, code.scope)
                body = {"access_token": token.value, "token_type": "bearer", "scope": code.scope}
        # GitHub answers 200 even for errors; the format follows the Accept header.
        if "json" in req.headers.get("accept", ""):
            return Response(200, body)
        encoded = urlencode({k: str(v) for k, v in body.items()}).encode()
        return Response(
            200, encoded, content_type="application/x-www-form-urlencoded; charset=utf-8"
        )

    router.add("GET", "/login/oauth/authorize", "none", authorize)
    router.add("POST", "/login/oauth/access_token", "none", access_token)
    return router
