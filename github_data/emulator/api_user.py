"""The signed-in user's endpoints (an OAuth user token): who they are, their e-mails,
their organizations and the App's installations they can reach.

`GET /user/orgs` lists every organization the user is a member of, whether the App is
installed there or not (as GitHub does with the `read:org` scope); telling them apart is
the App's part (`GET /orgs/{org}/installation`). `GET /user/installations` lists the
App's installations on those organizations and on the user's own account; GitHub
answers it only to GitHub App user tokens, the emulator to any user token.
"""

from __future__ import annotations

from typing import Any

from . import shapes
from .models import User
from .routing import Request, Response, Router, paginate
from .state import EmulatorState


def add_user_routes(router: Router, state: EmulatorState) -> None:
    ds = state.dataset

    def me(req: Request) -> User:
        assert req.token is not None and req.token.login is not None
        return ds.user(req.token.login)

    def get_me(req: Request) -> Response:
        with ds.lock:
            return Response(body=shapes.user_full(req.base_url(), me(req), private=True))

    def my_orgs(req: Request) -> Response:
        with ds.lock:
            orgs = [org for org, _ in ds.memberships(me(req).login)]
            chunk, links = paginate(req, orgs)
            return Response(
                body=[shapes.org_simple(req.base_url(), o) for o in chunk], headers=links
            )

    def my_memberships(req: Request) -> Response:
        with ds.lock:
            user = me(req)
            rows = [
                shapes.membership(req.base_url(), org, user, role)
                for org, role in ds.memberships(user.login)
            ]
            chunk, links = paginate(req, rows)
            return Response(body=chunk, headers=links)

    def my_emails(req: Request) -> Response:
        with ds.lock:
            email = me(req).email
        return Response(
            body=[{"email": email, "primary": True, "verified": True, "visibility": "private"}]
        )

    def my_installations(req: Request) -> Response:
        with ds.lock:
            user = me(req)
            reachable = {user.login.lower()} | {
                org.login.lower() for org, _ in ds.memberships(user.login)
            }
            found = [i for i in ds.installations.values() if i.account.lower() in reachable]
            chunk, links = paginate(req, found)
            body: dict[str, Any] = {
                "total_count": len(found),
                "installations": [shapes.installation_from(req.base_url(), ds, i) for i in chunk],
            }
            return Response(body=body, headers=links)

    router.add("GET", "/user", "user", get_me)
    router.add("GET", "/user/orgs", "user", my_orgs)
    router.add("GET", "/user/memberships/orgs", "user", my_memberships)
    router.add("GET", "/user/emails", "user", my_emails)
    router.add("GET", "/user/installations", "user", my_installations)
