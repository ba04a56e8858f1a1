"""The OAuth App web flow: authorize (at once, or through a page) and the code exchange.

`GET /login/oauth/authorize` checks `client_id` and `redirect_uri`, then

- refuses at once when `deny` is set (`POST /_emulator/oauth`);
- approves at once as the user a `login=` hint names (GitHub only suggests that
  account; tests and scripts need no page), else as the preset user
  (`POST /_emulator/oauth`, `EmulatorConfig.oauth_user`);
- otherwise answers a page (`oauth_page`) where a person picks an emulated user
  and approves or denies; its form posts to `POST /login/oauth/authorize`.

Approval redirects to `redirect_uri` with `code` and the same `state`; refusal with
`error=access_denied`, `error_description`, `error_uri` and `state`, as GitHub does.
`POST /login/oauth/access_token` exchanges a code once, within 10 minutes, for the
client it was issued to; any failure is GitHub's 200 with an `error` body.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from .auth import normalized_scope
from .models import NotFound
from .oauth_page import Account, AuthorizeRequest, render
from .routing import HttpError, Request, Response, Router
from .state import EmulatorState

OAUTH_DOCS = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors"
AUTHORIZE_DOCS = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors"
HTML = "text/html; charset=utf-8"


def _with_query(uri: str, params: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def build_oauth_router(state: EmulatorState) -> Router:
    ds = state.dataset
    router = Router()

    def checked_request(values: dict[str, str]) -> AuthorizeRequest:
        client_id = values.get("client_id", "")
        if client_id != ds.oauth_app.client_id:
            raise HttpError(404, "Not Found: unknown OAuth client_id")
        redirect_uri = values.get("redirect_uri")
        if not redirect_uri:
            raise HttpError(400, "redirect_uri is required by this emulator")
        scope, oauth_state = values.get("scope", ""), values.get("state")
        return AuthorizeRequest(client_id, redirect_uri, scope, oauth_state)

    def back(request: AuthorizeRequest, params: dict[str, str]) -> Response:
        if request.state is not None:
            params = {**params, "state": request.state}
        return Response(302, None, [("Location", _with_query(request.redirect_uri, params))])

    def approved(request: AuthorizeRequest, login: str) -> Response:
        scope = normalized_scope(request.scope)
        code = state.tokens.issue_code(request.client_id, request.redirect_uri, login, scope)
        return back(request, {"code": code.code})

    def denied(request: AuthorizeRequest) -> Response:
        return back(
            request,
            {
                "error": "access_denied",
                "error_description": "The user has denied your application access.",
                "error_uri": f"{AUTHORIZE_DOCS}#access-denied",
            },
        )

    def person(login: str | None) -> str | None:
        """The login of the user `login` names, or None (no such user, or not a person)."""
        if not login:
            return None
        try:
            user = ds.user(login)
        except NotFound:
            return None
        return user.login if user.type == "User" else None

    def page(request: AuthorizeRequest, error: str | None = None) -> Response:
        with ds.lock:
            order = ds.people + [u for u in ds.users if u not in ds.people]
            accounts = [
                Account(
                    login,
                    ds.users[login].name,
                    [(org.login, role) for org, role in ds.memberships(login)],
                    ds.installation_on(login) is not None,
                )
                for login in order
                if ds.users[login].type == "User"
            ]
        body = render(request, accounts, error)
        return Response(400 if error else 200, body, content_type=HTML)

    def authorize(req: Request) -> Response:
        request = checked_request(req.query)
        if state.oauth.deny:
            return denied(request)
        # A login hint GitHub does not know is ignored, as GitHub ignores it.
        chosen = person(req.query.get("login")) or state.oauth.user
        if chosen is not None:
            if person(chosen) is None:
                raise HttpError(500, f"the preset OAuth user {chosen!r} is not an emulated person")
            return approved(request, chosen)
        return page(request)

    def decide(req: Request) -> Response:
        """The page's form: approve as the chosen user, or deny."""
        form = req.form()
        request = checked_request(form)
        decision = form.get("decision")
        if decision == "deny":
            return denied(request)
        if decision != "approve":
            return page(request, f"Choose Authorize or Deny (got {decision!r}).")
        login = person(form.get("login"))
        if login is None:
            return page(request, f"Choose an account to sign in as (got {form.get('login')!r}).")
        return approved(request, login)

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
                "error_uri": f"{OAUTH_DOCS}#incorrect-client-credentials",
            }
        else:
            code = state.tokens.redeem_code(form.get("code", ""), form["client_id"])
            if code is None:
                body = {
                    "error": "bad_verification_code",
                    "error_description": "The code passed is incorrect or expired.",
                    "error_uri": f"{OAUTH_DOCS}#bad-verification-code",
                }
            elif form.get("redirect_uri") and form["redirect_uri"] != code.redirect_uri:
                body = {
                    "error": "redirect_uri_mismatch",
                    "error_description": (
                        "The redirect_uri MUST match the registered callback URL "
                        "for this application."
                    ),
                    "error_uri": f"{OAUTH_DOCS}#redirect-uri-mismatch",
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
    router.add("POST", "/login/oauth/authorize", "none", decide)
    router.add("POST", "/login/oauth/access_token", "none", access_token)
    return router
