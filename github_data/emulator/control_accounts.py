"""`/_emulator/` control of organizations, people and the App's installations.

Reads: `GET /_emulator/orgs` (each organization, its installation and members),
`GET /_emulator/users` (each user, their memberships and personal installation),
`GET /_emulator/installations`. Changes, each a dataset mutation with its webhook:

- `POST /_emulator/installations` `{"action": "install" | "uninstall" | "suspend" |
  "unsuspend", "account": "initech", "actor": "bob"}` (account: an organization or a
  user; default the first organization);
- `POST /_emulator/orgs/{org}/members` `{"action": "add" | "remove", "login": "dave",
  "role": "member", "name": "Dave Dunn", "actor": "alice"}`.

They are the `/_emulator/mutate` ops of the same names (`add_member`,
`create_installation`…), which `account_ops` defines once for both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import shapes
from .routing import HttpError, Request, Response, Router
from .state import EmulatorState

Args = dict[str, Any]
Op = Callable[[Args], Any]
RunOp = Callable[[Request, str, Args], Response]

INSTALLATION_ACTIONS = {
    "install": "create_installation",
    "uninstall": "delete_installation",
    "suspend": "suspend_installation",
    "unsuspend": "unsuspend_installation",
}
MEMBER_ACTIONS = {"add": "add_member", "remove": "remove_member"}


def account_ops(state: EmulatorState, base: str) -> dict[str, Op]:
    """The membership and installation ops of `/_emulator/mutate`."""
    ds = state.dataset

    def installation_json(inst: Any) -> Any:
        with ds.lock:
            return shapes.installation_from(base, ds, inst)

    def delete_installation(a: Args) -> Any:
        gone = ds.delete_installation(a.get("actor"), a.get("account"))
        state.tokens.revoke_installation(gone.id)
        return {"deleted_installation_id": gone.id, "account": gone.account}

    def remove_member(a: Args) -> Any:
        ds.remove_member(a["login"], a.get("actor"), a.get("org"))
        return {"removed": a["login"], "org": a.get("org") or ds.org.login}

    return {
        "add_member": lambda a: shapes.user_full(
            base,
            ds.add_member(
                a["login"], a.get("name"), a.get("role", "member"), a.get("actor"), a.get("org")
            ),
        ),
        "remove_member": remove_member,
        "create_installation": lambda a: installation_json(
            ds.create_installation(a.get("actor"), a.get("account"))
        ),
        "delete_installation": delete_installation,
        "suspend_installation": lambda a: installation_json(
            ds.suspend_installation(a.get("actor"), a.get("account"))
        ),
        "unsuspend_installation": lambda a: installation_json(
            ds.unsuspend_installation(a.get("actor"), a.get("account"))
        ),
    }


def add_account_routes(router: Router, state: EmulatorState, run_op: RunOp) -> None:
    ds = state.dataset

    def installation_row(inst: Any) -> dict[str, Any]:
        return {
            "id": inst.id,
            "account": inst.account,
            "target_type": inst.target_type,
            "suspended": inst.suspended_at is not None,
        }

    def list_orgs(req: Request) -> Response:
        with ds.lock:
            rows = []
            for org in ds.orgs.values():
                inst = ds.installation_on(org.login)
                rows.append(
                    {
                        "login": org.login,
                        "id": org.id,
                        "installation": installation_row(inst) if inst else None,
                        "members": dict(org.members),
                        "repos": len(org.repos),
                    }
                )
            return Response(body=rows)

    def list_users(req: Request) -> Response:
        with ds.lock:
            rows = []
            for user in ds.users.values():
                if user.type != "User":
                    continue
                inst = ds.installation_on(user.login)
                rows.append(
                    {
                        "login": user.login,
                        "id": user.id,
                        "name": user.name,
                        "email": user.email,
                        "person": user.login in ds.people,
                        "orgs": {org.login: role for org, role in ds.memberships(user.login)},
                        "installation": installation_row(inst) if inst else None,
                    }
                )
            return Response(body=rows)

    def list_installations(req: Request) -> Response:
        with ds.lock:
            return Response(body=[installation_row(i) for i in ds.installations.values()])

    def change_installation(req: Request) -> Response:
        data = req.json()
        action = data.pop("action", None)
        if action not in INSTALLATION_ACTIONS:
            raise HttpError(400, f"action must be one of {sorted(INSTALLATION_ACTIONS)}")
        return run_op(req, INSTALLATION_ACTIONS[action], data)

    def change_members(req: Request) -> Response:
        data = req.json()
        action = data.pop("action", None)
        if action not in MEMBER_ACTIONS:
            raise HttpError(400, f"action must be one of {sorted(MEMBER_ACTIONS)}")
        return run_op(req, MEMBER_ACTIONS[action], {**data, "org": req.params["org"]})

    router.add("GET", "/_emulator/orgs", "none", list_orgs)
    router.add("GET", "/_emulator/users", "none", list_users)
    router.add("GET", "/_emulator/installations", "none", list_installations)
    router.add("POST", "/_emulator/installations", "none", change_installation)
    router.add("POST", "/_emulator/orgs/{org}/members", "none", change_members)
