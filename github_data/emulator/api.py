"""The GitHub REST endpoints: organizations, repositories, branches, pulls, members, users.

Every organization of the dataset is served; `{org}` and `{owner}` pick it. The App's
and the installation's endpoints are in `api_app`, the signed-in user's in `api_user`,
commits and comparisons in `api_commits`; who sees what is `access`.
"""

from __future__ import annotations

import time
from typing import Any

from . import commit_shapes, repo_shapes, shapes
from .access import check_org, sees_private, visible_repo
from .api_app import add_app_routes
from .api_commits import add_commit_routes
from .api_user import add_user_routes
from .models import PullRequest
from .routing import HttpError, Request, Response, Router, paginate
from .state import EmulatorState

SORT_KEYS = {"created": "created_at", "updated": "updated_at"}


def build_api_router(state: EmulatorState) -> Router:  # noqa: C901 - one closure per endpoint
    ds = state.dataset
    router = Router()

    def repo_of(req: Request) -> Any:
        return visible_repo(ds, req)

    def for_caller(req: Request, repo_json: dict[str, Any]) -> dict[str, Any]:
        """A repository as this caller gets it: `permissions` (the caller's access) only
        for an authenticated caller, as GitHub."""
        if req.token is None:
            repo_json.pop("permissions", None)
        return repo_json

    def actor_of(req: Request) -> str:
        if req.token is not None and req.token.kind == "user" and req.token.login:
            return req.token.login
        return ds.bot_login

    add_app_routes(router, state)

    # -- organization, repositories, branches ----------------------------------------------

    def get_org(req: Request) -> Response:
        with ds.lock:
            org = check_org(ds, req.params["org"])
            member = sees_private(ds, req.token, org)
            repos = list(org.repos.values())
            return Response(body=shapes.org_full(req.base_url(), org, repos, member))

    def org_repos(req: Request) -> Response:
        with ds.lock:
            org = check_org(ds, req.params["org"])
            repos = list(org.repos.values())
            if not sees_private(ds, req.token, org):
                repos = [r for r in repos if not r.private]
            kind = req.query.get("type", "all")
            if kind in ("public", "private"):
                repos = [r for r in repos if r.private == (kind == "private")]
            chunk, links = paginate(req, repos)
            body = [for_caller(req, repo_shapes.repo(req.base_url(), org, r)) for r in chunk]
            return Response(body=body, headers=links)

    def get_repo(req: Request) -> Response:
        """The organizations' repositories, and users' forks of them (with `parent`)."""
        with ds.lock:
            r = repo_of(req)
            if r.parent is None:
                body = repo_shapes.full_repo(req.base_url(), ds.org_of(r), r)
            else:
                fork = repo_shapes.fork(req.base_url(), ds.org_of(r), r, ds.base_of(r))
                body = {**fork, "temp_clone_token": None}
            return Response(body=for_caller(req, body))

    def list_branches(req: Request) -> Response:
        with ds.lock:
            repo = repo_of(req)
            branches = list(repo.branches.values())
            if "protected" in req.query:
                wanted = req.query["protected"].lower() == "true"
                branches = [b for b in branches if b.protected == wanted]
            chunk, links = paginate(req, branches)
            org = ds.org_of(repo)
            body = [repo_shapes.branch_short(req.base_url(), org, repo, b) for b in chunk]
            return Response(body=body, headers=links)

    def get_branch(req: Request) -> Response:
        with ds.lock:
            repo = repo_of(req)
            org = ds.org_of(repo)
            branch = repo.branches.get(req.params["branch"])
            if branch is None:
                raise HttpError(404, "Branch not found")
            info = ds.git.commits_between(ds.owner_login(repo), repo.name, None, branch.sha)[0]
            base = req.base_url()
            people = commit_shapes.People(base, ds.users)
            head = commit_shapes.commit(base, org, people, repo, info)
            return Response(body=repo_shapes.branch_full(base, org, repo, branch, head))

    # "optional": anonymous callers get the public data (see `access`).
    router.add("GET", "/orgs/{org}", "optional", get_org)
    router.add("GET", "/orgs/{org}/repos", "optional", org_repos)
    router.add("GET", "/repos/{owner}/{repo}", "optional", get_repo)
    router.add("GET", "/repos/{owner}/{repo}/branches", "optional", list_branches)
    router.add("GET", "/repos/{owner}/{repo}/branches/{branch+}", "optional", get_branch)
    add_commit_routes(router, state)

    # -- members and users ------------------------------------------------------------------

    def list_members(req: Request) -> Response:
        with ds.lock:
            org = check_org(ds, req.params["org"])
            role = req.query.get("role", "all")
            logins = [m for m, r in org.members.items() if role == "all" or r == role]
            if not sees_private(ds, req.token, org):
                logins = []  # no public memberships (see `access`)
            chunk, links = paginate(req, logins)
            body = [shapes.simple_user(req.base_url(), m, ds.users[m].id) for m in chunk]
            return Response(body=body, headers=links)

    def check_member(req: Request) -> Response:
        """As documented: 204 or 404 (no body) to those who see the organization's
        members; anyone else is sent to the public membership check."""
        username = req.params["username"]
        with ds.lock:
            org = check_org(ds, req.params["org"])
            if not sees_private(ds, req.token, org):
                location = f"{req.base_url()}/orgs/{org.login}/public_members/{username}"
                return Response(302, None, [("Location", location)])
            members = {m.lower() for m in org.members}
        return Response(204 if username.lower() in members else 404)

    def check_public_member(req: Request) -> Response:
        """No membership is public in the emulator (see `access`): always 404."""
        check_org(ds, req.params["org"])
        return Response(404)

    def org_membership(req: Request) -> Response:
        with ds.lock:
            org = check_org(ds, req.params["org"])
            user = ds.user(req.params["username"])
            role = org.members.get(user.login)
            if role is None:
                raise HttpError(404, "Not Found")
            return Response(body=shapes.membership(req.base_url(), org, user, role))

    def get_user(req: Request) -> Response:
        with ds.lock:
            user = ds.user(req.params["username"])
            return Response(body=shapes.user_full(req.base_url(), user))

    router.add("GET", "/orgs/{org}/members", "optional", list_members)
    router.add("GET", "/orgs/{org}/members/{username}", "token", check_member)
    router.add("GET", "/orgs/{org}/public_members/{username}", "optional", check_public_member)
    router.add("GET", "/orgs/{org}/memberships/{username}", "token", org_membership)
    router.add("GET", "/users/{username}", "optional", get_user)

    # -- pull requests ----------------------------------------------------------------------

    def pull_body(req: Request, repo: Any, pr: PullRequest, full: bool) -> dict[str, Any]:
        body = repo_shapes.pull(req.base_url(), ds.org_of(repo), ds.users, repo, pr, full)
        for side in ("head", "base"):
            if body[side]["repo"] is not None:
                for_caller(req, body[side]["repo"])
        return body

    def list_pulls(req: Request) -> Response:
        wanted = req.query.get("state", "open")
        if wanted not in ("open", "closed", "all"):
            raise HttpError(
                422,
                "Validation Failed",
                [{"resource": "Search", "field": "state", "code": "invalid"}],
            )
        with ds.lock:
            repo = repo_of(req)
            pulls = [pr for pr in repo.pulls.values() if wanted == "all" or pr.state == wanted]
            if "head" in req.query:  # `owner:branch`: forks' branches may share names
                owner, _, head = req.query["head"].rpartition(":")
                pulls = [
                    pr
                    for pr in pulls
                    if pr.head == head
                    and (not owner or ds.owner_login(pr.head_repo or repo).lower() == owner.lower())
                ]
            if "base" in req.query:
                pulls = [pr for pr in pulls if pr.base == req.query["base"]]
            key = SORT_KEYS.get(req.query.get("sort", "created"), "created_at")
            descending = req.query.get("direction", "desc") != "asc"
            pulls.sort(key=lambda pr: (getattr(pr, key), pr.number), reverse=descending)
            chunk, links = paginate(req, pulls)
            return Response(body=[pull_body(req, repo, pr, False) for pr in chunk], headers=links)

    def get_pull(req: Request) -> Response:
        with ds.lock:
            repo = repo_of(req)
            pr = ds.pull(ds.full_name(repo), _number(req))
            return Response(body=pull_body(req, repo, pr, True))

    def create_pull(req: Request) -> Response:
        data = req.json()
        repo = repo_of(req)
        if not data.get("head"):
            raise HttpError(
                422,
                "Validation Failed",
                [{"resource": "PullRequest", "field": "head", "code": "missing_field"}],
            )
        pr = ds.open_pull_request(
            ds.full_name(repo),
            head=str(data["head"]),
            base=data.get("base"),
            title=data.get("title"),
            body=data.get("body") or "",
            user=actor_of(req),
            draft=bool(data.get("draft", False)),
        )
        with ds.lock:
            body = pull_body(req, repo, pr, True)
        return Response(201, body, [("Location", body["url"])])

    def update_pull(req: Request) -> Response:
        data, repo, number = req.json(), repo_of(req), _number(req)
        actor, name = actor_of(req), ds.full_name(repo)
        if "title" in data or "body" in data:
            ds.edit_pull_request(name, number, data.get("title"), data.get("body"), actor)
        if data.get("state") == "closed":
            ds.close_pull_request(name, number, actor)
        elif data.get("state") == "open" and ds.pull(name, number).state == "closed":
            ds.reopen_pull_request(name, number, actor)
        with ds.lock:
            return Response(body=pull_body(req, repo, ds.pull(name, number), True))

    def merge_pull(req: Request) -> Response:
        repo = repo_of(req)
        pr = ds.merge_pull_request(ds.full_name(repo), _number(req), actor_of(req))
        body = {
            "sha": pr.merge_commit_sha,
            "merged": True,
            "message": "Pull Request successfully merged",
        }
        return Response(body=body)

    router.add("GET", "/repos/{owner}/{repo}/pulls", "optional", list_pulls)
    router.add("POST", "/repos/{owner}/{repo}/pulls", "token", create_pull)
    router.add("GET", "/repos/{owner}/{repo}/pulls/{number}", "optional", get_pull)
    router.add("PATCH", "/repos/{owner}/{repo}/pulls/{number}", "token", update_pull)
    router.add("PUT", "/repos/{owner}/{repo}/pulls/{number}/merge", "token", merge_pull)

    add_user_routes(router, state)

    # -- rate limit ------------------------------------------------------------------------

    def rate_limit(req: Request) -> Response:
        core = state.rate.snapshot()
        reset = int(time.time()) + 3600

        def other(limit: int) -> dict[str, int]:
            return {"limit": limit, "used": 0, "remaining": limit, "reset": reset}

        resources = {
            "core": core,
            "search": other(30),
            "graphql": other(5000),
            "integration_manifest": other(5000),
            "code_search": other(10),
        }
        return Response(body={"resources": resources, "rate": core})

    router.add("GET", "/rate_limit", "optional", rate_limit)
    return router


def _number(req: Request) -> int:
    try:
        return int(req.params["number"])
    except ValueError:
        raise HttpError(404, "Not Found") from None
