"""Webhook payloads (GitHub's shapes) for the events the dataset emits.

An event belongs to an account (`account_of`): the organization of its repository or
membership, or the user who owns a fork or a personal installation. The payload names
that account's installation of the App, and its `organization` when it is one.
"""

from __future__ import annotations

from typing import Any

from . import repo_shapes, shapes
from .dataset import Dataset
from .gitrepos import CommitInfo
from .models import Event, Repository


def account_of(ds: Dataset, event: Event) -> str:
    """The login of the organization or user `event` belongs to."""
    if event.account is not None:
        return event.account
    if event.repo is None:
        raise ValueError(f"event {event.name}/{event.action} names neither account nor repo")
    return ds.owner_login(event.repo)


def _commit(base: str, owner: str, repo: str, info: CommitInfo) -> dict[str, Any]:
    def person(sig: Any) -> dict[str, Any]:
        return {"name": sig.name, "email": sig.email, "username": sig.email.split("@")[0]}

    return {
        "id": info.sha,
        "tree_id": info.tree,
        "distinct": True,
        "message": info.message,
        "timestamp": shapes.iso(info.committer.when),
        "url": f"{base}/{owner}/{repo}/commit/{info.sha}",
        "author": person(info.author),
        "committer": person(info.committer),
        "added": [],
        "removed": [],
        "modified": [],
    }


def _repo_ref(ds: Dataset, repo: Repository) -> dict[str, Any]:
    return {
        "id": repo.id,
        "node_id": shapes.node_id("R", repo.id),
        "name": repo.name,
        "full_name": ds.full_name(repo),
        "private": repo.private,
    }


def build_payload(event: Event, ds: Dataset, base: str) -> dict[str, Any]:
    """The JSON body GitHub would deliver for `event` (call with the dataset lock held)."""
    account = account_of(ds, event)
    org = ds.org_named(account) if ds.is_org(account) else None
    payload: dict[str, Any] = {}
    if event.action is not None:
        payload["action"] = event.action
    data = event.data
    if event.name == "push":
        repo = event.repo
        assert repo is not None
        owner = ds.owner_login(repo)
        commits = [_commit(base, owner, repo.name, c) for c in data["commits"]]
        head = data["head_commit"]
        user = ds.users.get(event.sender)
        compare = f"{data['before'][:12]}...{data['after'][:12]}"
        payload.update(
            ref=data["ref"],
            before=data["before"],
            after=data["after"],
            created=data["created"],
            deleted=data["deleted"],
            forced=data["forced"],
            base_ref=None,
            compare=f"{base}/{owner}/{repo.name}/compare/{compare}",
            commits=commits,
            head_commit=_commit(base, owner, repo.name, head) if head else None,
            pusher={"name": event.sender, "email": user.email if user else None},
        )
    elif event.name in ("create", "delete"):
        assert event.repo is not None
        payload.update(ref=data["ref"], ref_type=data["ref_type"], pusher_type="user")
        if event.name == "create":
            payload.update(
                master_branch=event.repo.default_branch, description=event.repo.description
            )
    elif event.name == "pull_request":
        assert event.repo is not None
        pr = data["pull_request"]
        payload["number"] = pr.number
        payload["pull_request"] = repo_shapes.pull(
            base, ds.org_of(event.repo), ds.users, event.repo, pr, full=True
        )
        for key in ("changes", "before", "after"):
            if key in data:
                payload[key] = data[key]
    elif event.name == "organization":
        assert org is not None, f"an organization event belongs to an organization: {account}"
        user = data["user"]
        payload["membership"] = {
            "url": f"{base}/orgs/{org.login}/memberships/{user.login}",
            "state": "active",
            "role": data["role"],
            "organization_url": f"{base}/orgs/{org.login}",
            "user": shapes.simple_user(base, user.login, user.id),
        }
    elif event.name == "installation":
        payload["installation"] = shapes.installation_from(base, ds, data["installation"])
        payload["repositories"] = [_repo_ref(ds, r) for r in data.get("repositories", [])]
        payload["requester"] = None
    elif event.name == "installation_repositories":
        payload["installation"] = shapes.installation_from(base, ds, data["installation"])
        payload["repository_selection"] = "all"
        for key in ("repositories_added", "repositories_removed"):
            payload[key] = [_repo_ref(ds, r) for r in data.get(key, [])]
        payload["requester"] = None
    elif event.name != "repository":
        raise ValueError(f"no payload builder for event {event.name!r}")

    if event.repo is not None:
        payload["repository"] = repo_shapes.repo(base, ds.org_of(event.repo), event.repo)
    if org is not None:
        payload["organization"] = shapes.org_simple(base, org)
    inst = ds.installation_on(account)
    if "installation" not in payload and inst is not None:
        payload["installation"] = {
            "id": inst.id,
            "node_id": shapes.node_id("MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u", inst.id),
        }
    payload["sender"] = shapes.user_ref(base, ds.users, org or ds.org, event.sender)
    return payload
