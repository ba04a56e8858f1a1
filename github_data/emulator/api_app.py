"""The GitHub App's endpoints (App JWT) and the installation's own (installation token).

The App may be installed on several accounts: organizations and personal accounts,
one installation each. `GET /orgs/{org}/installation` and
`GET /users/{username}/installation` answer 404 where it is not installed. A
suspended installation gets no token (403, as GitHub), and the server refuses the
tokens it already had (see `server.EmulatorApp._token`).
"""

from __future__ import annotations

from typing import Any

from . import repo_shapes, shapes
from .access import check_org
from .models import Installation, NotFound
from .routing import HttpError, Request, Response, Router, paginate
from .state import EmulatorState

SUSPENDED = "This installation has been suspended"


def add_app_routes(router: Router, state: EmulatorState) -> None:
    ds = state.dataset

    def installation_json(req: Request, inst: Installation) -> dict[str, Any]:
        return shapes.installation_from(req.base_url(), ds, inst)

    def by_id(req: Request) -> Installation:
        try:
            return ds.installation_by_id(int(req.params["installation_id"]))
        except (NotFound, ValueError):
            raise HttpError(404, "Not Found") from None

    def on_account(login: str) -> Installation:
        inst = ds.installation_on(login)
        if inst is None:
            raise HttpError(404, "Not Found")
        return inst

    def get_app(req: Request) -> Response:
        with ds.lock:
            count = len(ds.installations)
            return Response(body=shapes.app(req.base_url(), ds.org, ds.app, count))

    def list_installations(req: Request) -> Response:
        with ds.lock:
            chunk, links = paginate(req, list(ds.installations.values()))
            return Response(body=[installation_json(req, i) for i in chunk], headers=links)

    def get_installation(req: Request) -> Response:
        with ds.lock:
            return Response(body=installation_json(req, by_id(req)))

    def org_installation(req: Request) -> Response:
        with ds.lock:
            org = check_org(ds, req.params["org"])
            return Response(body=installation_json(req, on_account(org.login)))

    def user_installation(req: Request) -> Response:
        """A personal account's installation; GitHub answers for an organization's
        login here too (organizations are users to `/users/`)."""
        with ds.lock:
            try:
                account = ds.account(req.params["username"])
            except NotFound:
                raise HttpError(404, "Not Found") from None
            return Response(body=installation_json(req, on_account(account.login)))

    def create_access_token(req: Request) -> Response:
        with ds.lock:
            inst = by_id(req)
            if inst.suspended_at is not None:
                raise HttpError(403, SUSPENDED)
        token = state.tokens.issue_installation_token(inst.id)
        body = {
            "token": token.value,
            "expires_at": token.expires_iso(),
            "permissions": shapes.APP_PERMISSIONS,
            "repository_selection": "all",
        }
        return Response(201, body)

    def delete_installation(req: Request) -> Response:
        inst = by_id(req)
        ds.delete_installation(account=inst.account)
        state.tokens.revoke_installation(inst.id)
        return Response(204)

    def suspend(req: Request) -> Response:
        """Suspending a suspended installation changes nothing (no second event)."""
        inst = by_id(req)
        if inst.suspended_at is None:
            ds.suspend_installation(actor=ds.bot_login, account=inst.account)
        return Response(204)

    def unsuspend(req: Request) -> Response:
        inst = by_id(req)
        if inst.suspended_at is not None:
            ds.unsuspend_installation(actor=ds.bot_login, account=inst.account)
        return Response(204)

    router.add("GET", "/app", "jwt", get_app)
    router.add("GET", "/app/installations", "jwt", list_installations)
    router.add("GET", "/app/installations/{installation_id}", "jwt", get_installation)
    router.add("DELETE", "/app/installations/{installation_id}", "jwt", delete_installation)
    router.add(
        "POST", "/app/installations/{installation_id}/access_tokens", "jwt", create_access_token
    )
    router.add("PUT", "/app/installations/{installation_id}/suspended", "jwt", suspend)
    router.add("DELETE", "/app/installations/{installation_id}/suspended", "jwt", unsuspend)
    router.add("GET", "/orgs/{org}/installation", "jwt", org_installation)
    router.add("GET", "/users/{username}/installation", "jwt", user_installation)

    # -- the installation (installation token) ---------------------------------------------

    def installation_repositories(req: Request) -> Response:
        assert req.token is not None and req.token.installation_id is not None
        with ds.lock:
            inst = ds.installation_by_id(req.token.installation_id)
            repos = ds.repos_of_account(inst.account)
            chunk, links = paginate(req, repos)
            body = {
                "total_count": len(repos),
                "repository_selection": "all",
                "repositories": [
                    repo_shapes.repo(req.base_url(), ds.org_of(r), r) for r in chunk
                ],
            }
            return Response(body=body, headers=links)

    router.add("GET", "/installation/repositories", "installation", installation_repositories)
