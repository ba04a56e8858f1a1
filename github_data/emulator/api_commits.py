"""`GET /repos/{owner}/{repo}/commits/{ref}` and `GET /repos/{owner}/{repo}/compare/{basehead}`.

Both are answered from the real bare repository (`githistory`): ahead/behind, merge
base, commits and changed files are what git says. Refs are branch names or hex shas
(full or abbreviated); a compare side may carry its owner (`acme:main`), which must be
the repository's owner. As GitHub: a compare without `page`/`per_page` lists the 250 most
recent commits, with them it pages the commits (Link header) and lists the files on the
first page only; at most 300 files are listed.
"""

from __future__ import annotations

from typing import Any

from . import commit_shapes, githistory, gitrepos
from .access import visible_repo
from .routing import HttpError, Request, Response, Router, paginate
from .state import EmulatorState

MAX_UNPAGED_COMMITS = 250
MAX_FILES = 300


def add_commit_routes(router: Router, state: EmulatorState) -> None:
    ds = state.dataset

    def resolve(repo: Any, ref: str) -> str | None:
        branch = repo.branches.get(ref)
        if branch is not None:
            return str(branch.sha)
        return githistory.resolve_sha(ds.git.path(ds.owner_login(repo), repo.name), ref)

    def get_commit(req: Request) -> Response:
        with ds.lock:
            repo = visible_repo(ds, req)
            ref = req.params["ref"]
            sha = resolve(repo, ref)
            if sha is None:
                raise HttpError(422, f"No commit found for SHA: {ref}")
            path = ds.git.path(ds.owner_login(repo), repo.name)
            info = gitrepos.log(path, sha, limit=1)[0]
            parent = info.parents[0] if info.parents else None
            files = githistory.diff(path, parent, sha)[:MAX_FILES]
            base = req.base_url()
            people = commit_shapes.People(base, ds.users)
            body = commit_shapes.commit_with_files(
                base, ds.org_of(repo), people, repo, info, files
            )
            return Response(body=body)

    def compare(req: Request) -> Response:
        with ds.lock:
            repo = visible_repo(ds, req)
            basehead = req.params["basehead"]
            base_ref, sep, head_ref = basehead.partition("...")
            if not sep:
                raise HttpError(404, "Not Found")
            base_sha = resolve(repo, _own_ref(base_ref, ds.owner_login(repo)))
            head_sha = resolve(repo, _own_ref(head_ref, ds.owner_login(repo)))
            if base_sha is None or head_sha is None:
                raise HttpError(404, "Not Found")
            path = ds.git.path(ds.owner_login(repo), repo.name)
            merge_base = githistory.merge_base(path, base_sha, head_sha)
            if merge_base is None:
                raise HttpError(
                    404, f"No common ancestor between {base_ref} and {head_ref}."
                )
            ahead, behind = githistory.ahead_behind(path, base_sha, head_sha)
            commits = gitrepos.log(path, head_sha, f"^{base_sha}")
            links: list[tuple[str, str]] = []
            paged = "page" in req.query or "per_page" in req.query
            if paged:
                commits, links = paginate(req, commits)
            else:
                commits = commits[-MAX_UNPAGED_COMMITS:]
            first_page = not paged or req.query.get("page", "1") == "1"
            files = githistory.diff(path, merge_base, head_sha)[:MAX_FILES] if first_page else None
            comparison = commit_shapes.Comparison(
                basehead=basehead,
                base=gitrepos.log(path, base_sha, limit=1)[0],
                head_sha=head_sha,
                merge_base=gitrepos.log(path, merge_base, limit=1)[0],
                ahead_by=ahead,
                behind_by=behind,
                commits=commits,
                files=files,
            )
            base = req.base_url()
            people = commit_shapes.People(base, ds.users)
            body = commit_shapes.comparison(base, ds.org_of(repo), people, repo, comparison)
            return Response(body=body, headers=links)

    # `+`: branch names may contain slashes (GitHub marks both as multi-segment).
    router.add("GET", "/repos/{owner}/{repo}/commits/{ref+}", "optional", get_commit)
    router.add("GET", "/repos/{owner}/{repo}/compare/{basehead+}", "optional", compare)


def _own_ref(ref: str, owner: str) -> str:
    """`acme:main` → `main`; another owner's ref (a fork) is not in this repository."""
    named, sep, rest = ref.partition(":")
    if not sep:
        return ref
    if named.lower() != owner.lower():
        raise HttpError(404, "Not Found")
    return rest
