"""Installations and onboarding, over real HTTP: an installation webhook
before anyone signed in leads to a completed sync and a correct app
snapshot at the first sign-in; a member of an organization without the App
sees how to install it, and the page's socket hears the installation and
the first sync; an audit entry for each kind of issue 13."""

from __future__ import annotations

import json
from typing import Any

import pytest

from audit_log.models import AuditEntry, AuditKind
from foundry.actors.models import OPEN_STATUSES, Command, CommandStatus
from github_data.actor import github_data
from orgs.models import Organization
from orgs.reads import organization_snapshot

from .conftest import Site, cards, settle, until
from .test_access import socket

pytestmark = pytest.mark.workers


def test_installation_before_any_sign_in(site: Site) -> None:
    """globex installs the App while nobody has signed in: the webhook's
    sync completes on its own, and erin's first sign-in finds globex
    installed and synced, with its repositories."""
    site.control("installations", {"action": "install", "account": "globex", "actor": "erin"})
    settle()
    profile = Organization.objects.get(org_id="globex")
    assert (profile.installation_status, profile.sync_status) == ("installed", "succeeded")
    assert profile.installation_id == site.github.installation_id_for("globex")

    erin = site.sign_in("erin")
    settle()
    seen = cards("erin")
    assert set(seen) == {"globex", "personal-erin"}
    assert seen["globex"].installation_status == "installed"
    assert seen["globex"].sync_status == "succeeded"
    snapshot = organization_snapshot("globex")
    assert [r.full_name for r in snapshot.repositories] == ["globex/repo-001", "globex/repo-002"]
    assert all(r.tasks >= 1 for r in snapshot.repositories)
    page = erin.get("/o/globex/").text
    assert "globex/repo-001" in page and "Installed" in page
    assert "Install the Foundry App" not in erin.get("/o/globex/").text


def test_onboarding_updates_live(site: Site) -> None:
    """erin's globex has no App: the page shows how to install it; its
    socket then hears the installation and the first sync's progress."""
    erin = site.sign_in("erin")
    settle()
    page = erin.get("/o/globex/")
    assert page.status_code == 200 and "Install the Foundry App" in page.text
    with socket(site, "globex", erin) as ws:
        site.control("installations", {"action": "install", "account": "globex"})
        events: list[dict[str, Any]] = []
        while not any(e.get("status") == "succeeded" for e in events):
            events.append(json.loads(ws.recv(timeout=60)))
    kinds = [e["event"] for e in events]
    assert "sync.progress" in kinds and "organization.changed" in kinds
    assert events[-1]["event"] == "sync.progress" and events[-1]["status"] == "succeeded"
    settle()
    page = erin.get("/o/globex/")
    assert "Install the Foundry App" not in page.text and "globex/repo-001" in page.text


def test_an_audit_entry_for_each_kind(site: Site) -> None:
    """Sign-in, sign-out, sign-in failed, installation created, suspended,
    unsuspended and deleted, sync started, succeeded and failed,
    membership gained and lost: each leaves its entry."""
    erin = site.sign_in("erin")
    settle()
    for action in ("install", "suspend", "unsuspend"):
        site.control("installations", {"action": action, "account": "globex", "actor": "erin"})
        settle()
    # Member events reach the App only while it is installed (not suspended).
    site.control("orgs/globex/members", {"action": "remove", "login": "erin"})
    site.control("installations", {"action": "suspend", "account": "globex"})
    settle()
    # A sync of a suspended installation fails (GitHub refuses its token).
    ref = github_data.get(org="globex").send("github_data.command.full_sync", {
        "org": "globex", "installation_id": site.github.installation_id_for("globex"),
    })
    until(lambda: not Command.objects.filter(status__in=OPEN_STATUSES).exists(), "the sync")
    assert Command.objects.get(pk=ref.id).status == CommandStatus.FAILED
    Command.objects.filter(pk=ref.id).delete()  # expected; settle() fails on failures
    site.control("installations", {"action": "uninstall", "account": "globex"})
    settle()
    token = erin.get("/orgs/").text.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    erin.post("/signout/", data={"csrfmiddlewaretoken": token})
    site.control("oauth", {"deny": True})
    browser = site.browser()
    browser.get(site.callback_url(site.authorize(site.begin(browser), "erin")))

    seen = set(AuditEntry.objects.values_list("kind", flat=True))
    issue_13 = {
        AuditKind.SIGN_IN, AuditKind.SIGN_OUT, AuditKind.SIGN_IN_FAILED,
        AuditKind.INSTALLATION_CREATED, AuditKind.INSTALLATION_DELETED,
        AuditKind.INSTALLATION_SUSPENDED, AuditKind.INSTALLATION_UNSUSPENDED,
        AuditKind.SYNC_STARTED, AuditKind.SYNC_SUCCEEDED, AuditKind.SYNC_FAILED,
        AuditKind.MEMBERSHIP_GAINED, AuditKind.MEMBERSHIP_LOST,
    }
    assert issue_13 - seen == set()
    created = AuditEntry.objects.get(kind=AuditKind.INSTALLATION_CREATED)
    assert (created.actor, created.org) == ("erin", "globex")
    lost = AuditEntry.objects.get(kind=AuditKind.MEMBERSHIP_LOST)
    assert (lost.actor, lost.org, lost.details["source"]) == ("erin", "globex", "member webhook")
    failed = AuditEntry.objects.get(kind=AuditKind.SYNC_FAILED)
    assert failed.org == "globex" and "suspended" in failed.details["error"]
    assert Organization.objects.get(org_id="globex").installation_status == "removed"
