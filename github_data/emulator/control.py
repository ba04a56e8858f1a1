"""`/_emulator/...`: JSON control endpoints for tests and operators (no auth).

Organizations, people and installations have their own routes (`control_accounts`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import repo_shapes
from .control_accounts import account_ops, add_account_routes
from .models import NotFound
from .routing import HttpError, Request, Response, Router
from .state import EmulatorState

Args = dict[str, Any]


def _mutations(state: EmulatorState, base: str) -> dict[str, Callable[[Args], Any]]:
    ds = state.dataset

    def pr_json(repo: str, pr: Any) -> Any:
        with ds.lock:
            found = ds.repo(repo)
            return repo_shapes.pull(base, ds.org_of(found), ds.users, found, pr, full=True)

    def delete_branch(a: Args) -> Any:
        ds.delete_branch(a["repo"], a["name"], a.get("actor"))
        return {"deleted": a["name"]}

    def delete_repo(a: Args) -> Any:
        ds.delete_repository(a["name"], a.get("actor"))
        return {"deleted": a["name"]}

    def fork_json(a: Args) -> Any:
        fork = ds.create_fork(a["repo"], a["owner"])
        with ds.lock:
            return repo_shapes.fork(base, ds.org_of(fork), fork, ds.base_of(fork))

    def branch_json(a: Args) -> Any:
        branch = ds.create_branch(a["repo"], a["name"], a.get("from_ref"), a.get("actor"))
        with ds.lock:
            found = ds.repo(a["repo"])
            return repo_shapes.branch_short(base, ds.org_of(found), found, branch)

    def repo_json(a: Args) -> Any:
        repo = ds.create_repository(a["name"], bool(a.get("private", False)), a.get("actor"))
        with ds.lock:
            return repo_shapes.repo(base, ds.org_of(repo), repo)

    return {
        "open_pr": lambda a: pr_json(
            a["repo"],
            ds.open_pull_request(
                a["repo"],
                a["head"],
                a.get("base"),
                a.get("title"),
                a.get("body", ""),
                a.get("user"),
                bool(a.get("draft", False)),
            ),
        ),
        "close_pr": lambda a: pr_json(
            a["repo"], ds.close_pull_request(a["repo"], int(a["number"]), a.get("actor"))
        ),
        "merge_pr": lambda a: pr_json(
            a["repo"], ds.merge_pull_request(a["repo"], int(a["number"]), a.get("actor"))
        ),
        "reopen_pr": lambda a: pr_json(
            a["repo"], ds.reopen_pull_request(a["repo"], int(a["number"]), a.get("actor"))
        ),
        "edit_pr": lambda a: pr_json(
            a["repo"],
            ds.edit_pull_request(
                a["repo"], int(a["number"]), a.get("title"), a.get("body"), a.get("actor")
            ),
        ),
        "push": lambda a: {
            "sha": ds.push(a["repo"], a["branch"], a.get("files"), a.get("message"), a.get("actor"))
        },
        "create_branch": branch_json,
        "delete_branch": delete_branch,
        "create_repo": repo_json,
        "delete_repo": delete_repo,
        "create_fork": fork_json,
        **account_ops(state, base),
    }


def build_control_router(state: EmulatorState, app_info: Callable[[], dict[str, Any]]) -> Router:
    ds = state.dataset
    router = Router()

    def get_state(req: Request) -> Response:
        return Response(
            body={
                "counts": ds.counts(),
                "faults": state.faults.describe(),
                "rate_limit": state.rate.snapshot(),
                "webhook_url": state.webhooks.url,
                "deliveries": len(state.webhooks.deliveries()),
                "oauth": state.oauth.describe(),
            }
        )

    def get_faults(req: Request) -> Response:
        return Response(body=state.faults.describe())

    def post_faults(req: Request) -> Response:
        data = req.json()
        try:
            for command in data.get("commands", [data]):
                state.faults.configure(command)
        except (ValueError, TypeError) as exc:
            raise HttpError(400, str(exc)) from None
        return Response(body=state.faults.describe())

    def run_op(req: Request, op: str, args: Args) -> Response:
        ops = _mutations(state, req.base_url())
        if op not in ops:
            raise HttpError(400, f"op must be one of {sorted(ops)}")
        try:
            result = ops[op](args)
        except KeyError as exc:
            raise HttpError(400, f"{op} needs the argument {exc}") from None
        return Response(body={"op": op, "result": result})

    def mutate(req: Request) -> Response:
        data = req.json()
        return run_op(req, str(data.pop("op", None)), data)

    def requests(req: Request) -> Response:
        counts = state.counter.snapshot()
        return Response(body={"counts": counts, "total": sum(counts.values())})

    def reset_counters(req: Request) -> Response:
        state.counter.reset()
        state.rate.reset()
        return Response(body={"counts": {}, "total": 0})

    def oauth(req: Request) -> Response:
        """`user`: who authorize signs in at once (null: nobody, the page asks);
        `deny`: refuse every authorization. A key left out keeps its value."""
        data = req.json()
        if data.get("user"):
            try:
                user = ds.user(str(data["user"]))
            except NotFound:
                raise HttpError(400, f"no user {data['user']!r} to sign in as") from None
            if user.type != "User":
                raise HttpError(400, f"{user.login} is a {user.type}, not a person")
            data["user"] = user.login
        state.oauth.configure(data)
        return Response(body=state.oauth.describe())

    def webhooks(req: Request) -> Response:
        if req.method == "GET":
            return Response(body=[d.summary() for d in state.webhooks.deliveries()])
        data = req.json()
        action = data.get("action")
        if action == "configure":
            state.webhooks.configure(data.get("url"), data.get("secret"), data.get("auto"))
            return Response(body={"url": state.webhooks.url, "auto": state.webhooks.auto})
        if action == "redeliver":
            try:
                return Response(
                    body=state.webhooks.redeliver(str(data.get("delivery_id"))).summary()
                )
            except KeyError as exc:
                raise HttpError(404, str(exc)) from None
        if action == "send":
            delivery = state.webhooks.send(
                str(data["event"]),
                data.get("payload", {}),
                bad_signature=bool(data.get("bad_signature")),
            )
            return Response(body=delivery.summary())
        raise HttpError(400, "action must be one of configure, redeliver, send")

    def tokens(req: Request) -> Response:
        data = req.json()
        if data.get("action") == "issue_installation_token":
            account = str(data.get("account") or ds.org.login)
            inst = ds.installation_on(account)
            if inst is None:
                raise HttpError(404, f"the app is not installed on {account}")
            token = state.tokens.issue_installation_token(inst.id)
        elif data.get("action") == "issue_user_token":
            token = state.tokens.issue_user_token(
                ds.user(str(data["login"])).login, data.get("scope", "read:org repo")
            )
        elif data.get("action") == "expire":
            which = "code" if "code" in data else "token"
            try:
                if which == "code":
                    state.tokens.expire_code(str(data["code"]))
                else:
                    state.tokens.expire(str(data["token"]))
            except KeyError:
                raise HttpError(404, f"no such {which}: {data.get(which)!r}") from None
            return Response(body={"expired": data[which]})
        else:
            raise HttpError(
                400,
                "action must be one of issue_installation_token, issue_user_token, "
                "expire (token or code)",
            )
        return Response(body={"token": token.value, "expires_at": token.expires_iso()})

    router.add("GET", "/_emulator/state", "none", get_state)
    router.add("GET", "/_emulator/faults", "none", get_faults)
    router.add("POST", "/_emulator/faults", "none", post_faults)
    router.add("POST", "/_emulator/mutate", "none", mutate)
    router.add("GET", "/_emulator/requests", "none", requests)
    router.add("POST", "/_emulator/reset_counters", "none", reset_counters)
    router.add("GET", "/_emulator/app", "none", lambda req: Response(body=app_info()))
    router.add("POST", "/_emulator/oauth", "none", oauth)
    router.add("GET", "/_emulator/webhooks", "none", webhooks)
    router.add("POST", "/_emulator/webhooks", "none", webhooks)
    router.add("POST", "/_emulator/tokens", "none", tokens)
    add_account_routes(router, state, run_op)
    return router
