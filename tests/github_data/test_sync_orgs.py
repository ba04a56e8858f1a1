"""The full sync of each organization of a multi-organization emulator, through real
workers (PostgreSQL and SQLite): each installation token sees its own organization."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from github_data.emulator import DEMO_ORGS
from github_data.models import GitHubMember, GitHubRepository
from orgs.models import TaskSummary

pytestmark = pytest.mark.workers


def full_sync(org: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("full_sync", org, "--json", stdout=out, stderr=io.StringIO())
    return dict(json.loads(out.getvalue().strip().splitlines()[-1]))


def test_each_organization_with_the_app_syncs_its_own_data(github_stack: Any) -> None:
    """acme and initech sync their own repositories, members (the people among them)
    and pull requests; globex, without the App, is refused with the reason."""
    stack = github_stack(**DEMO_ORGS, repos=2, prs_per_repo=1)
    stack.start_workers()
    for org in ("acme", "initech"):
        summary = full_sync(org)
        assert (summary["repos"], summary["members"], summary["pull_requests"]) == (2, 7, 2)
        names = set(GitHubRepository.objects.filter(org=org).values_list("full_name", flat=True))
        assert names == {f"{org}/repo-001", f"{org}/repo-002"}
        assert TaskSummary.objects.filter(org=org).count() == 2
    members = {
        org: set(GitHubMember.objects.filter(org=org).values_list("login", flat=True))
        for org in ("acme", "initech")
    }
    assert {"alice", "bob"} <= members["acme"] and "carol" not in members["acme"]
    assert {"bob", "carol"} <= members["initech"] and "alice" not in members["initech"]
    with pytest.raises(CommandError, match="no GitHub App installation found for 'globex'"):
        full_sync("globex")
