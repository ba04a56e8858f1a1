"""JSON shapes of repositories, branches, commits and pull requests (see `shapes`)."""

from __future__ import annotations

from .models import Branch, Organization, PullRequest, Repository, User
from .shapes import Json, iso, node_id, simple_user, user_ref


def owner(base: str, org: Organization, r: Repository) -> Json:
    """The repository's owner: the organization, or the user who owns a fork."""
    if r.owner is None:
        return simple_user(base, org.login, org.id, "Organization")
    return simple_user(base, r.owner.login, r.owner.id)


def repo(base: str, org: Organization, r: Repository) -> Json:
    """A FullRepository; a superset of the Repository/MinimalRepository/webhook shapes."""
    owner_json = owner(base, org, r)
    full_name = f"{owner_json['login']}/{r.name}"
    url = f"{base}/repos/{full_name}"
    open_count = sum(pr.state == "open" for pr in r.pulls.values())
    templated = {
        "archive_url": "/{archive_format}{/ref}",
        "assignees_url": "/assignees{/user}",
        "blobs_url": "/git/blobs{/sha}",
        "branches_url": "/branches{/branch}",
        "collaborators_url": "/collaborators{/collaborator}",
        "comments_url": "/comments{/number}",
        "commits_url": "/commits{/sha}",
        "compare_url": "/compare/{base}...{head}",
        "contents_url": "/contents/{+path}",
        "contributors_url": "/contributors",
        "deployments_url": "/deployments",
        "downloads_url": "/downloads",
        "events_url": "/events",
        "forks_url": "/forks",
        "git_commits_url": "/git/commits{/sha}",
        "git_refs_url": "/git/refs{/sha}",
        "git_tags_url": "/git/tags{/sha}",
        "hooks_url": "/hooks",
        "issue_comment_url": "/issues/comments{/number}",
        "issue_events_url": "/issues/events{/number}",
        "issues_url": "/issues{/number}",
        "keys_url": "/keys{/key_id}",
        "labels_url": "/labels{/name}",
        "languages_url": "/languages",
        "merges_url": "/merges",
        "milestones_url": "/milestones{/number}",
        "notifications_url": "/notifications{?since,all,participating}",
        "pulls_url": "/pulls{/number}",
        "releases_url": "/releases{/id}",
        "stargazers_url": "/stargazers",
        "statuses_url": "/statuses/{sha}",
        "subscribers_url": "/subscribers",
        "subscription_url": "/subscription",
        "tags_url": "/tags",
        "teams_url": "/teams",
        "trees_url": "/git/trees{/sha}",
    }
    return {
        "id": r.id,
        "node_id": node_id("R", r.id),
        "name": r.name,
        "full_name": full_name,
        "owner": owner_json,
        "private": r.private,
        "visibility": "private" if r.private else "public",
        "html_url": f"{base}/{full_name}",
        "description": r.description,
        "fork": r.parent is not None,
        "url": url,
        **{key: url + suffix for key, suffix in templated.items()},
        "git_url": f"{base}/{full_name}.git".replace("http://", "git://", 1),
        "ssh_url": f"git@{base.split('://', 1)[1]}:{full_name}.git",
        "clone_url": f"{base}/{full_name}.git",
        "svn_url": f"{base}/{full_name}",
        "mirror_url": None,
        "homepage": None,
        "language": "Python",
        "forks_count": 0,
        "forks": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "watchers": 0,
        "size": 1,
        "default_branch": r.default_branch,
        "open_issues_count": open_count,
        "open_issues": open_count,
        "is_template": False,
        "topics": [],
        "has_issues": True,
        "has_projects": True,
        "has_wiki": False,
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": False,
        "archived": False,
        "disabled": False,
        "pushed_at": iso(r.pushed_at),
        "created_at": iso(r.created_at),
        "updated_at": iso(r.updated_at),
        "permissions": {
            "admin": False,
            "maintain": False,
            "push": True,
            "triage": True,
            "pull": True,
        },
        "allow_forking": True,
        "web_commit_signoff_required": False,
        "license": None,
        "subscribers_count": 0,
        "network_count": 0,
    }


def fork(base: str, org: Organization, r: Repository, parent: Repository) -> Json:
    """A fork's FullRepository: `parent` and `source` name the repository it forks
    (the same here: the emulator forks only the organization's repositories)."""
    parent_json = repo(base, org, parent)
    return {**repo(base, org, r), "parent": parent_json, "source": parent_json}


def branch_short(base: str, org: Organization, r: Repository, b: Branch) -> Json:
    return {
        "name": b.name,
        "commit": {"sha": b.sha, "url": f"{base}/repos/{org.login}/{r.name}/commits/{b.sha}"},
        "protected": b.protected,
    }


def branch_full(base: str, org: Organization, r: Repository, b: Branch, head: Json) -> Json:
    url = f"{base}/repos/{org.login}/{r.name}/branches/{b.name}"
    return {
        "name": b.name,
        "commit": head,
        "_links": {"self": url, "html": f"{base}/{org.login}/{r.name}/tree/{b.name}"},
        "protected": b.protected,
        # What GitHub sends for a branch without required status checks.
        "protection": {
            "enabled": b.protected,
            "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
        },
        "protection_url": f"{url}/protection",
    }


def pull(
    base: str, org: Organization, users: dict[str, User], r: Repository, pr: PullRequest, full: bool
) -> Json:
    repo_json = repo(base, org, r)
    base_owner = owner(base, org, r)
    head_owner = owner(base, org, pr.head_repo or r)  # a fork's owner for a PR from a fork
    api = f"{base}/repos/{org.login}/{r.name}"
    html = f"{base}/{org.login}/{r.name}/pull/{pr.number}"
    url = f"{api}/pulls/{pr.number}"
    links = {
        "self": url,
        "html": html,
        "issue": f"{api}/issues/{pr.number}",
        "comments": f"{api}/issues/{pr.number}/comments",
        "review_comments": f"{url}/comments",
        "review_comment": f"{api}/pulls/comments{{/number}}",
        "commits": f"{url}/commits",
        "statuses": f"{api}/statuses/{pr.head_sha}",
    }
    data: Json = {
        "url": url,
        "id": pr.id,
        "node_id": node_id("PR", pr.id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": links["issue"],
        "commits_url": links["commits"],
        "review_comments_url": links["review_comments"],
        "review_comment_url": links["review_comment"],
        "comments_url": links["comments"],
        "statuses_url": links["statuses"],
        "number": pr.number,
        "state": pr.state,
        "locked": False,
        "title": pr.title,
        "user": user_ref(base, users, org, pr.user),
        "body": pr.body,
        "labels": [],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": iso(pr.created_at),
        "updated_at": iso(pr.updated_at),
        "closed_at": iso(pr.closed_at),
        "merged_at": iso(pr.merged_at),
        "merge_commit_sha": pr.merge_commit_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": {
            "label": f"{head_owner['login']}:{pr.head}",
            "ref": pr.head,
            "sha": pr.head_sha,
            "user": head_owner,
            "repo": repo_json if pr.head_repo is None else repo(base, org, pr.head_repo),
        },
        "base": {
            "label": f"{org.login}:{pr.base}",
            "ref": pr.base,
            "sha": pr.base_sha,
            "user": base_owner,
            "repo": repo_json,
        },
        "_links": {key: {"href": href} for key, href in links.items()},
        "author_association": "MEMBER" if pr.user in org.members else "CONTRIBUTOR",
        "auto_merge": None,
        "draft": pr.draft,
    }
    if full:
        data.update(
            merged=pr.merged_at is not None,
            mergeable=True if pr.state == "open" else None,
            rebaseable=True if pr.state == "open" else None,
            mergeable_state="clean" if pr.state == "open" else "unknown",
            merged_by=user_ref(base, users, org, pr.merged_by) if pr.merged_by else None,
            comments=0,
            review_comments=0,
            maintainer_can_modify=False,
            commits=1,
            additions=1,
            deletions=0,
            changed_files=1,
        )
    return data


def full_repo(base: str, org: Organization, r: Repository) -> Json:
    """`GET /repos/{owner}/{repo}`: `repo` and `temp_clone_token` (null), which GitHub
    sends there. Only FullRepository documents that field as nullable; the other
    repository shapes type it as a string, so `repo` leaves it out."""
    return {**repo(base, org, r), "temp_clone_token": None}
